#!/usr/bin/env bash
# compare_train.sh - smr's training speed against issue 5's targets, in one
# run: builds smr-train-bench (bench/train/train_bench.c), writes the
# synthetic problem (bench/train/synth.py) into a temporary directory, runs
#   (A) smr-train-bench epoch on 60000x784x10 and 20000x256x1000 (and the
#       (C) shapes 20000x100x1000 and 1797x64x10): one objective+gradient
#       evaluation and one gd fit epoch against the GEMM floor (target
#       ratio <= 1.2);
#   (B) smr-train-bench optimum (L-BFGS, f32 and f64) and scikit-learn's
#       lbfgs LogisticRegression to within 1e-6 of the reference optimum on
#       standardized Digits and on synth, l2 = 1e-3 (target sklearn/smr >= 5);
#   (C) a full-batch PyTorch CPU loop per epoch on the shapes of (B),
#       Digits (1797x64x10) and synth (20000x100x1000), against smr's gd fit
#       epoch (target PyTorch/smr >= 3), and on the shapes of (A) as extras;
# and writes the tables into docs/BENCHMARKS.md between <!-- train:begin -->
# and <!-- train:end --> (appended with a heading when missing).
#
#   bash bench/train/compare_train.sh [--build-dir DIR] [--threads N] [--no-doc]
#
# --build-dir: the meson build directory (default: build; set up when it has
# no build.ninja). --threads N (default 1) sets SMR_NUM_THREADS,
# OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS and
# torch.set_num_threads for every program. --no-doc prints the block
# instead of writing it. The Python peers need Debian's /usr/bin/python3
# (TRAIN_PYTHON overrides) with python3-sklearn and python3-torch; a missing
# one is skipped with a message. (B) runs in 3 interleaved rounds (smr f32,
# smr f64, scikit-learn) so that a change of load on a shared machine hits
# both sides alike. The raw JSON lines, the machine description and the
# block are kept in BUILD/train-bench/. Takes about 3 minutes (most of it
# scikit-learn on synth: ~8 s per fit, 3 timed fits plus its tol scan).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$root/build
threads=1
write_doc=1
command_line="bash bench/train/compare_train.sh${*:+ $*}"
PY=${TRAIN_PYTHON:-/usr/bin/python3}

# Reference optima (bench/train/README.md, ref_optimum.py), l2 = 1e-3.
L2=1e-3
REF_DIGITS=0.0861454862407
REF_SYNTH=5.4084740888657645
EPOCH_SHAPES=(60000x784x10 20000x256x1000 20000x100x1000 1797x64x10)
EPOCH_REPS=7
TORCH_REPS=7
ROUNDS=3 # of (B)

usage() { sed -n '2,/^set -euo/{/^set/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) build=$(realpath -m "${2:?--build-dir needs a directory}"); shift ;;
    --threads) threads=${2:?--threads needs a count}; shift ;;
    --no-doc) write_doc=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "compare_train: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
case $threads in '' | *[!0-9]* | 0) echo "compare_train: --threads needs an integer >= 1" >&2; exit 2 ;; esac

say() { echo "compare_train: $*" >&2; }
skipped=()
skip() { say "skipping $1"; skipped+=("$1"); }

export SMR_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
  MKL_NUM_THREADS=$threads

# --- smr-train-bench (and the smr tool, for its blas line).
if [ ! -f "$build/build.ninja" ]; then
  say "setting up $build"
  meson setup "$build" "$root" >/dev/null
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/smr-train.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say "building smr-train-bench in $build"
meson compile -C "$build" smr-train-bench >"$tmp/build.log" 2>&1 || {
  cat "$tmp/build.log" >&2
  say "no smr-train-bench: is the bench option disabled? (meson configure $build -Dbench=auto)"
  exit 1
}
bench=$build/bench/smr-train-bench
blas=unknown
if meson compile -C "$build" tools/smr >>"$tmp/build.log" 2>&1 || [ -x "$build/tools/smr" ]; then
  blas=$("$build/tools/smr" info 2>/dev/null | sed -n 's/^blas: //p' | head -n 1 || true)
  [ -n "$blas" ] || blas=unknown
fi
isa=$("$build/tools/smr" info 2>/dev/null | sed -n 's/^active: //p' | head -n 1 || true)

# --- Peers available?
have_py=0 have_sk=0 have_torch=0
if [ ! -x "$PY" ]; then
  skip "scikit-learn and PyTorch: $PY not found"
elif ! "$PY" -c 'import numpy' 2>/dev/null; then
  skip "scikit-learn and PyTorch: no numpy for $PY (python3-numpy)"
else
  have_py=1
  if "$PY" -c 'import sklearn' 2>/dev/null; then have_sk=1; else skip "scikit-learn: not installed for $PY (python3-sklearn)"; fi
  if "$PY" -c 'import torch' 2>/dev/null; then have_torch=1; else skip "PyTorch: not installed for $PY (python3-torch)"; fi
fi
[ "$have_py" = 1 ] || skip "the synthetic problem: synth.py needs numpy (the synth rows are left out)"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
results=$tmp/results.jsonl
: >"$results"
peers=$root/bench/train/py_train_peers.py

# --- (A) and (C): per shape, smr then PyTorch (interleaved in time).
for s in "${EPOCH_SHAPES[@]}"; do
  IFS=x read -r n d k <<<"$s"
  say "epoch $s: smr-train-bench ($EPOCH_REPS repetitions)"
  "$bench" epoch "$n" "$d" "$k" "$EPOCH_REPS" >>"$results"
  if [ "$have_torch" = 1 ]; then
    say "epoch $s: PyTorch ($TORCH_REPS epochs)"
    "$PY" "$peers" torch --shapes "$s" --reps "$TORCH_REPS" --threads "$threads" --l2 "$L2" \
      >>"$results" || skip "PyTorch on $s: py_train_peers.py failed"
  fi
done

# --- (B): per data set, ROUNDS rounds of smr f32, smr f64 and scikit-learn,
# so a change of load on the shared machine hits both sides alike. Round 1
# of scikit-learn scans the tols (the fit at the chosen tol is its timing of
# that round); later rounds fit at that tol. The report takes the median
# over rounds (of each round's median: digits runs 5 fits per round).
optimum_rounds() { # data-name path ref smr-reps sk-reps sk-data-args...
  local name=$1 path=$2 ref=$3 smr_reps=$4 sk_reps=$5
  shift 5
  local tol_args=() r dt
  for ((r = 1; r <= ROUNDS; r++)); do
    for dt in f32 f64; do
      say "optimum $name $dt, round $r of $ROUNDS: smr-train-bench"
      "$bench" optimum "$path" "$L2" "$ref" "$dt" "$smr_reps" >>"$results" ||
        say "smr $dt did not reach the $name optimum"
    done
    if [ "$have_sk" = 1 ]; then
      say "optimum $name, round $r of $ROUNDS: scikit-learn${tol_args[1]:+ (tol ${tol_args[1]})}"
      if "$PY" "$peers" sklearn "$@" --l2 "$L2" --ref "$ref" --reps "$sk_reps" \
        "${tol_args[@]}" >"$tmp/sk.json"; then
        cat "$tmp/sk.json" >>"$results"
        [ ${#tol_args[@]} -gt 0 ] ||
          tol_args=(--tols "$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["tol"])' <"$tmp/sk.json")")
      else
        cat "$tmp/sk.json" >>"$results"
        skip "scikit-learn on $name: no tol reached 1e-6"
        break
      fi
    fi
  done
}
optimum_rounds digits "$root/data/digits.csv" "$REF_DIGITS" 5 5 --data digits --csv "$root/data/digits.csv"
if [ "$have_py" = 1 ]; then
  say "writing the synthetic problem to $tmp/synth"
  "$PY" "$root/bench/train/synth.py" --out "$tmp/synth" >/dev/null
  optimum_rounds synth "$tmp/synth" "$REF_SYNTH" 1 1 --data synth --dir "$tmp/synth"
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- The block.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
{
  echo "command: $command_line"
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: ${cpu:-$(uname -m)}, $(getconf _NPROCESSORS_ONLN) CPUs, $(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) GiB, Linux $(uname -r)"
  echo "compiler: $(cc --version | head -n 1), $(meson introspect "$build" --buildoptions 2>/dev/null |
    sed -n 's/.*"name": "buildtype", "value": "\([^"]*\)".*/\1/p' | head -n 1) build"
  echo "blas: $blas"
  echo "isa: ${isa:-unknown}"
  echo "threads: $threads"
  echo "cpus: $(getconf _NPROCESSORS_ONLN)"
  echo "load_start: $load_start"
  echo "load_end: $load_end"
  for s in "${skipped[@]}"; do echo "skipped: $s"; done
} >"$tmp/meta.txt"

pyr=$PY
[ -x "$pyr" ] || pyr=python3
doc_args=()
[ "$write_doc" = 1 ] && doc_args=(--doc "$root/docs/BENCHMARKS.md")
keep=$build/train-bench
mkdir -p "$keep"
cp "$results" "$tmp/meta.txt" "$keep/"
"$pyr" "$peers" report --results "$results" --meta "$tmp/meta.txt" "${doc_args[@]}" |
  tee "$keep/block.md"
say "raw results: $keep/results.jsonl, $keep/meta.txt"
if [ "$write_doc" = 1 ]; then
  say "table written to docs/BENCHMARKS.md (between <!-- train:begin --> and <!-- train:end -->)"
fi
