#!/usr/bin/env bash
# compare.sh - smr's kernels side by side with its peers (issue 4): builds and
# runs, on the same shapes in one run, smr-bench (smr's softmax, online
# softmax, cross-entropy and memcpy), oneDNN's softmax primitive through its C
# API (bench/peers/onednn_softmax.c), PyTorch's torch.softmax and
# cross_entropy, scipy.special.softmax and np.copyto (bench/peers/py_peers.py),
# f32, one thread each. Writes the combined CSV to BUILD/compare/compare.csv,
# the tables into docs/BENCHMARKS.md between <!-- compare:begin --> and
# <!-- compare:end -->, and the plot to docs/img/compare.png and .svg.
#
#   bash bench/compare.sh [--install] [--rounds R] [--threads "1 2"]
#                         [--shapes "NxK ..."] [--build-dir DIR] [--no-doc]
#
# --rounds R runs the whole sequence R times (default 1) and reports the
# median of each cell: on a shared, noisy machine the implementations are
# then measured at interleaved times rather than each in its own window.
# --threads runs every table also at other thread counts; --no-doc leaves
# docs/ alone and writes the block and the plot under BUILD/compare.
#
# The peers are optional: each missing one is skipped with a message, and
# with none installed the script still measures smr. --install apt-gets them
# first (Debian: libdnnl-dev python3-torch python3-scipy python3-numpy
# python3-matplotlib). smr's own build dependencies come from
# tools/install-deps.sh. Takes a few minutes, most of it the DRAM shape.
set -euo pipefail

# Shapes n x k, in table order: L2-resident, many short rows, long rows in
# cache, then the DRAM-resident one. A shape smr-bench does not have is
# replaced by its FALLBACK entry, if any, or dropped.
SHAPES=(256x1000 10000x100 100000x10 8x32000 4x128000 8192x32000)
declare -A FALLBACK=()
THREADS=(1)
ROUNDS=1
PEER_PKGS=(libdnnl-dev python3-torch python3-scipy python3-numpy python3-matplotlib)
# Debian's interpreter, the one with python3-torch & co. (not a pyenv or venv
# python3 that may come first in PATH); CC builds the oneDNN program.
PY=${COMPARE_PYTHON:-/usr/bin/python3}
CC=${CC:-cc}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$root/build-compare
install=0
write_doc=1
command_line="bash bench/compare.sh${*:+ $*}"

usage() { sed -n '2,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --install) install=1 ;;
    --rounds) ROUNDS=${2:?--rounds needs a count}; shift ;;
    --threads) read -r -a THREADS <<<"${2:?--threads needs a list}"; shift ;;
    --shapes) read -r -a SHAPES <<<"${2:?--shapes needs a list}"; shift ;;
    --build-dir) build=$(realpath -m "${2:?--build-dir needs a directory}"); shift ;;
    --no-doc) write_doc=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "compare: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
out=$build/compare
say() { echo "compare: $*" >&2; }
skipped=()
skip() { say "skipping $1"; skipped+=("$1"); }

if [ "$install" = 1 ]; then
  missing=()
  for p in "${PEER_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y "${missing[@]}"
  fi
fi

# --- smr: smr-bench, release build.
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" -Dbuildtype=release -Dbench=enabled >/dev/null
fi
meson compile -C "$build" smr-bench >"$build/compare-build.log" ||
  { cat "$build/compare-build.log" >&2; exit 1; }
mkdir -p "$out"
bench=$build/bench/smr-bench
listed=$("$bench" --benchmark_list_tests)
# smr-bench lists the ISAs this CPU runs; dispatch picks the widest of them.
isa=
for i in scalar neon avx2 avx512; do
  grep -q "^softmax/$i/" <<<"$listed" && isa=$i
done

shapes=()
for s in "${SHAPES[@]}"; do
  if grep -q "/f32/$s/" <<<"$listed"; then
    shapes+=("$s")
  elif [ -n "${FALLBACK[$s]:-}" ] && grep -q "/f32/${FALLBACK[$s]}/" <<<"$listed"; then
    say "smr-bench has no $s yet: using ${FALLBACK[$s]} instead"
    shapes+=("${FALLBACK[$s]}")
  else
    say "smr-bench has no $s: dropped"
  fi
done
[ ${#shapes[@]} -gt 0 ] || { say "no shapes left"; exit 1; }
shape_re=$(IFS='|'; echo "${shapes[*]}")
threads_re=$(IFS='|'; echo "${THREADS[*]}")

# --- Which peers can run: oneDNN when dnnl.h and libdnnl are there (the C
# API program is built here), the Python peers through Debian's Python.
have_dnnl=0
have_py=0
read -r -a dnnl_flags <<<"$(pkg-config --cflags --libs dnnl 2>/dev/null || echo -ldnnl)"
if ! echo '#include <dnnl.h>' | "$CC" -E -x c - >/dev/null 2>&1; then
  skip "oneDNN: libdnnl-dev not installed (no dnnl.h)"
elif ! "$CC" -std=c11 -O2 -Wall -Wextra -o "$out/onednn-softmax" \
  "$root/bench/peers/onednn_softmax.c" "${dnnl_flags[@]}" 2>"$out/onednn-build.log"; then
  skip "oneDNN: bench/peers/onednn_softmax.c did not build (see $out/onednn-build.log)"
else
  have_dnnl=1
fi
if [ ! -x "$PY" ]; then
  skip "PyTorch, SciPy, NumPy: $PY not found"
elif ! "$PY" -c 'import numpy' 2>/dev/null; then
  skip "PyTorch, SciPy, NumPy: python3-numpy not installed"
else
  have_py=1
  "$PY" -c 'import torch' 2>/dev/null || skip "PyTorch: python3-torch not installed"
  "$PY" -c 'import scipy.special' 2>/dev/null || skip "SciPy: python3-scipy not installed"
fi

# --- The runs: smr-bench, oneDNN, Python, in rounds; one CSV line per
# measurement and round, one smr-bench JSON per round.
rm -f "$out"/smr-*.json "$out"/smr-*.txt
: >"$out/onednn.csv"
: >"$out/python.csv"
: >"$out/python.log"
smr_json=()
for ((r = 1; r <= ROUNDS; r++)); do
  say "round $r of $ROUNDS: smr-bench ($isa): ${shapes[*]}, threads ${THREADS[*]}"
  "$bench" \
    --benchmark_filter="^(softmax|online|ce_grad|ce_loss|memcpy)/($isa|-)/f32/($shape_re)/real_time/threads:($threads_re)\$" \
    --benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_min_time=0.2 \
    --benchmark_out="$out/smr-$r.json" --benchmark_out_format=json >"$out/smr-$r.txt" 2>&1 ||
    { cat "$out/smr-$r.txt" >&2; exit 1; }
  smr_json+=(--smr-json "$out/smr-$r.json")
  for t in "${THREADS[@]}"; do
    if [ "$have_dnnl" = 1 ]; then
      say "round $r: oneDNN softmax, $t thread(s)"
      OMP_NUM_THREADS=$t "$out/onednn-softmax" -t "$t" "${shapes[@]}" >>"$out/onednn.csv" ||
        skip "oneDNN with $t thread(s) in round $r: the program failed (exit $?)"
    fi
    if [ "$have_py" = 1 ]; then
      say "round $r: PyTorch, SciPy, NumPy, $t thread(s)"
      OMP_NUM_THREADS=$t "$PY" "$root/bench/peers/py_peers.py" -t "$t" "${shapes[@]}" \
        >>"$out/python.csv" 2>>"$out/python.log" ||
        skip "Python peers with $t thread(s) in round $r: py_peers.py failed (exit $?, see $out/python.log)"
    fi
  done
done
peers=()
[ "$have_dnnl" = 1 ] && peers+=(--peers "$out/onednn.csv")
[ "$have_py" = 1 ] && peers+=(--peers "$out/python.csv")

# --- The machine and the versions, then the table and the plot.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
gbench=$(dpkg-query -W -f='${Version}' libbenchmark-dev 2>/dev/null || echo '?')
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: ${cpu:-$(uname -m)}, $(nproc) CPUs, $(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) GiB," \
    "Debian $(cat /etc/debian_version 2>/dev/null || echo '?'), Linux $(uname -r)"
  echo "smr $(meson introspect "$build" --projectinfo | sed 's/.*"version": "\([^"]*\)".*/\1/')," \
    "ISA $isa (the widest this CPU runs, the one dispatch picks)," \
    "$(cc --version | head -n 1) (meson's default), release build; Google Benchmark $gbench"
} >"$out/meta.txt"

pyr=$PY
[ -x "$pyr" ] || pyr=python3
plot_args=()
have_plot=0
if [ -x "$PY" ] && "$PY" -c 'import matplotlib' 2>/dev/null; then
  have_plot=1
  plot_args=(--plot img/compare.png)
else
  skip "the plot: no matplotlib for $PY (python3-matplotlib)"
fi
doc_args=()
[ "$write_doc" = 1 ] && doc_args=(--doc "$root/docs/BENCHMARKS.md")
skip_args=()
for s in "${skipped[@]}"; do skip_args+=(--skipped "$s"); done

"$pyr" "$root/bench/peers/report.py" "${smr_json[@]}" --isa "$isa" \
  "${peers[@]}" --meta "$out/meta.txt" "${skip_args[@]}" --csv "$out/compare.csv" \
  --command "$command_line" --shapes "${shapes[*]}" "${plot_args[@]}" "${doc_args[@]}" \
  >"$out/block.md"
if [ "$have_plot" = 1 ]; then
  stem=$root/docs/img/compare
  [ "$write_doc" = 1 ] || stem=$out/compare
  mkdir -p "$(dirname "$stem")"
  "$PY" "$root/bench/peers/plot.py" "$out/compare.csv" "${shapes[*]}" "$stem"
  say "plot: $stem.png, $stem.svg"
fi
say "table: ${doc_args[1]:-$out/block.md}; data: $out/compare.csv"
