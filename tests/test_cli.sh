#!/bin/sh
# test_cli.sh - end-to-end checks of the smr command.
# usage: sh tests/test_cli.sh PATH/TO/smr DATA_DIR
# Prints one line per check ("ok - ..." or "FAIL - ...", with the command's
# output on failure) and a final "N passed, N failed"; exits 1 on any failure.
# SMR_TEST_EMULATOR (words, e.g. "qemu-aarch64 -L /"): run smr under it (a
# cross build, tests/meson.build; an emulated CPU, tools/test.sh). A cross
# build without one (SMR_TEST_CROSS=1) cannot run smr: skipped (exit 77).
# shellcheck disable=SC2016 # awk programs and sh -c scripts are single-quoted on purpose
set -u

# shellcheck source=tests/cli_lib.sh
. "$(dirname "$0")/cli_lib.sh"

data_rows() { awk 'NF > 0 { n++ } END { print n - 1 }' "$1"; }

# --------------------------------------------------------------------------
# help and version

check "smr --help" "$SMR" --help
check "smr -h" "$SMR" -h
check "smr --version" "$SMR" --version
expect "--version prints the version" '/^smr [0-9]+\.[0-9]+\.[0-9]+$/ { f = 1 } END { exit !f }'
check "smr help" "$SMR" help
for c in train predict eval demo bench info; do
  check "smr $c --help" "$SMR" "$c" --help
  expect "smr $c --help prints a usage line" '/^Usage: smr / { f = 1 } END { exit !f }'
  check "smr $c -h" "$SMR" "$c" -h
  check "smr help $c" "$SMR" help "$c"
done

# --------------------------------------------------------------------------
# demo and info

run "$SMR" demo
if [ "$rc" -ne 0 ]; then
  bad "smr demo exits 0 (exit $rc)"
else
  ok "smr demo exits 0"
  expect "demo held-out accuracy >= 0.9" \
    '/^held-out accuracy:/ { f = 1; if ($3 + 0 < 0.9) bad = 1 } END { exit !(f && !bad) }'
  expect "demo training accuracy >= 0.9" \
    '/^training accuracy:/ { f = 1; if ($3 + 0 < 0.9) bad = 1 } END { exit !(f && !bad) }'
  expect "demo prints a finite held-out log-loss" \
    '/^held-out log-loss:/ { f = ($3 + 0 > 0 && $3 + 0 < 1) } END { exit !f }'
  expect "demo prints a 3x3 confusion matrix" \
    '/^(setosa|versicolor|virginica) / { r++; if (NF != 4) bad = 1 } END { exit !(r == 3 && !bad) }'
  expect "demo prints the active ISA" '/^ISA: [a-z0-9]+$/ { f = 1 } END { exit !f }'
fi
check "smr demo --dtype f32 --seed 7" "$SMR" demo --dtype f32 --seed 7
expect "f32 demo held-out accuracy >= 0.9" \
  '/^held-out accuracy:/ { f = ($3 + 0 >= 0.9) } END { exit !f }'
check "smr demo --isa scalar" "$SMR" demo --isa scalar
expect "demo --isa scalar runs on scalar" '/^ISA: scalar$/ { f = 1 } END { exit !f }'
check_fail "smr demo --isa bogus" 2 "$SMR" demo --isa bogus
check_fail "smr demo extra argument" 2 "$SMR" demo extra

check "smr info" "$SMR" info
expect "info lists scalar as compiled and available" \
  '$1 == "scalar" && $2 == "yes" && $3 == "yes" { f = 1 } END { exit !f }'
expect "info reports zlib" '/^zlib: (yes|no)$/ { f = 1 } END { exit !f }'
expect "info reports the BLAS" \
  '/^blas: (OpenBLAS [^ ]+ \(.+ threads?, .+\)|CBLAS .+|none \(built-in blocked GEMM\))$/ { f = 1 } END { exit !f }'
expect "info: the active ISA is an available one" \
  '$2 == "yes" && $3 == "yes" { avail[$1] = 1 } /^active: / { a = $2 } END { exit !(a in avail) }'
# OpenBLAS's thread count: 1 unless SMR_NUM_THREADS or OPENBLAS_NUM_THREADS
# says otherwise (src/blas.c)
if grep -q '^blas: OpenBLAS' "$tmp/out"; then
  check "smr info, no thread variables" env -u SMR_NUM_THREADS -u OPENBLAS_NUM_THREADS "$SMR" info
  expect "info: OpenBLAS on 1 thread by default" '/^blas: OpenBLAS .*, 1 thread, / { f = 1 } END { exit !f }'
  check "SMR_NUM_THREADS=2 smr info" env SMR_NUM_THREADS=2 "$SMR" info
  expect "info: SMR_NUM_THREADS=2 gives OpenBLAS 2 threads" \
    '/^blas: OpenBLAS .*, 2 threads, / { f = 1 } END { exit !f }'
fi
# smr's own thread count (src/threads.c): SMR_NUM_THREADS, else
# OPENBLAS_NUM_THREADS, else 1; other values are ignored
for case in ":1" "SMR_NUM_THREADS=3:3" "OPENBLAS_NUM_THREADS=2:2" "SMR_NUM_THREADS=2 OPENBLAS_NUM_THREADS=3:2" \
            "SMR_NUM_THREADS=0:1" "SMR_NUM_THREADS=x OPENBLAS_NUM_THREADS=2:2" "SMR_NUM_THREADS=257:1"; do
  vars=${case%:*}
  # shellcheck disable=SC2086 # the variables are separate words on purpose
  check "info with '$vars'" env -u SMR_NUM_THREADS -u OPENBLAS_NUM_THREADS $vars "$SMR" info
  expect "info with '$vars' reports threads: ${case##*:}" "/^threads: ${case##*:}\$/ { f = 1 } END { exit !f }"
done
check "SMR_ISA=scalar smr info" env SMR_ISA=scalar "$SMR" info
expect "SMR_ISA=scalar: active scalar, honoured" \
  '/^active: scalar$/ { a = 1 } /^SMR_ISA: "scalar" honoured/ { h = 1 } END { exit !(a && h) }'
check "SMR_ISA=bogus smr info exits 0" env SMR_ISA=bogus "$SMR" info
expect "SMR_ISA=bogus: reports the unknown name and the fallback" \
  '/^SMR_ISA: "bogus" is not a known ISA name, using [a-z0-9]+$/ { f = 1 } END { exit !f }'
check "SMR_ISA=bogus smr demo exits 0" env SMR_ISA=bogus "$SMR" demo
# An ISA that is compiled out or not supported by this CPU, if there is one.
run "$SMR" info
na=$(awk '$1 ~ /^(scalar|avx2|avx512|neon)$/ && $3 == "no" { print $1; exit }' "$tmp/out")
if [ -n "$na" ]; then
  check "SMR_ISA=$na smr info exits 0" env SMR_ISA="$na" "$SMR" info
  expect "SMR_ISA=$na: not available, fallback reported" \
    '/^SMR_ISA: ".*" is not available here, using [a-z0-9]+$/ { f = 1 } END { exit !f }'
fi

# --------------------------------------------------------------------------
# bench: tiny shapes and --time 0.001 keep each run to milliseconds (also
# under an emulator); the ISAs available here come from smr info

run "$SMR" info
avail=$(awk '$1 ~ /^(scalar|avx2|avx512|neon)$/ && $3 == "yes" { printf "%s%s", s, $1; s = " " }' "$tmp/out")
na=$(awk '$1 ~ /^(scalar|avx2|avx512|neon)$/ && $3 == "no" { print $1; exit }' "$tmp/out")
n_avail=$(echo "$avail" | wc -w | tr -d ' ')
kernels="softmax online log_softmax ce_grad ce_grad_inplace ce_loss memcpy"
# tables ISAS KERNELS: the last output holds one table per ISA of ISAS, in
# that order, each with one row per kernel of KERNELS holding a shape's
# cell "GB/s (ratio to memcpy)", both positive (awk reads 1.2e-05 too).
tables() {
  awk -v isas="$1" -v kernels="$2" '
    BEGIN { ni = split(isas, I, " "); nk = split(kernels, K, " ") }
    /^isa: / { isa = $2; if (I[++t] != isa) bad = 1; next }
    isa != "" && NF == 3 {
      row[isa, $1] = 1; rows++
      x = substr($3, 2, length($3) - 2)
      if (!($2 + 0 > 0) || $3 !~ /^\(.*\)$/ || !(x + 0 > 0)) bad = 1
    }
    END {
      for (i = 1; i <= ni; i++) for (k = 1; k <= nk; k++) if (!((I[i], K[k]) in row)) bad = 1
      exit bad || t != ni || rows != ni * nk
    }' "$tmp/out"
}

check "smr bench --time 0.001 --shapes 16x100" "$SMR" bench --time 0.001 --shapes 16x100
if tables "$avail" "$kernels"; then ok "bench: a table per available ISA ($avail), a row per kernel"
else bad "bench: a table per available ISA ($avail), a row per kernel"; fi
expect "bench: the header names the CPU ISAs, the active ISA, dtype f32 and threads 1" \
  -v avail="$avail" '/^smr [0-9.]+ bench: CPU ISAs / {
    f = index($0, "CPU ISAs " avail ", active ") && / dtype f32, threads 1 \(memcpy 1\)$/ } END { exit !f }'
check "smr bench --isa all" "$SMR" bench --time 0.001 --shapes 16x100 --isa all
if tables "$avail" "$kernels"; then ok "bench --isa all: every available ISA"; else bad "bench --isa all: every available ISA"; fi
check "smr bench --isa scalar" "$SMR" bench --time 0.001 --shapes 16x100 --isa scalar
if tables scalar "$kernels"; then ok "bench --isa scalar: only the scalar table"; else bad "bench --isa scalar: only the scalar table"; fi
isa_csv=$(echo "$avail" | tr ' ' ,)
check "smr bench --isa $isa_csv" "$SMR" bench --time 0.001 --shapes 16x100 --isa "$isa_csv"
if tables "$avail" "$kernels"; then ok "bench --isa LIST: those tables"; else bad "bench --isa LIST: those tables"; fi
check "smr bench --kernels ce_loss,softmax" "$SMR" bench --time 0.001 --shapes 16x100 --kernels ce_loss,softmax
if tables "$avail" "softmax ce_loss memcpy"; then ok "bench --kernels: those rows and memcpy"; else bad "bench --kernels: those rows and memcpy"; fi
check "smr bench --dtype f64" "$SMR" bench --time 0.001 --shapes 16x100,3x7 --dtype f64 --isa scalar
expect "bench --dtype f64: the header says f64" '/^smr .* bench: .* dtype f64, threads 1 \(memcpy 1\)$/ { f = 1 } END { exit !f }'
expect "bench --dtype f64: two shape columns" '$1 == "kernel" { f = ($2 == "16x100" && $3 == "3x7") } END { exit !f }'
check "SMR_ISA=scalar smr bench" env SMR_ISA=scalar "$SMR" bench --time 0.001 --shapes 16x100
expect "bench under SMR_ISA=scalar: active scalar, every ISA measured" \
  -v avail="$avail" 'index($0, "CPU ISAs " avail ", active scalar,") { f = 1 } /^isa: / { n++ }
                     END { exit !(f && n == split(avail, a, " ")) }'

# csv: a header, then one line per (ISA, kernel, shape) with 10 fields,
# bytes of the minimum traffic (ce_loss reads only) and positive numbers
check "smr bench --format csv" "$SMR" bench --time 0.001 --shapes 16x100,3x7 --format csv
expect "bench csv: $n_avail ISAs x 7 kernels x 2 shapes, 10 fields, positive finite numbers" \
  -F, -v lines="$((n_avail * 14))" '
  NR == 1 { if ($0 != "isa,dtype,threads,kernel,n,k,bytes,seconds,gb_per_s,x_memcpy") bad = 1; next }
  { n++
    if (NF != 10 || $2 != "f32" || $3 != 1 || $1 !~ /^[a-z0-9]+$/) bad = 1
    for (i = 5; i <= 10; i++) if ($i !~ /^[0-9.]+([eE][-+]?[0-9]+)?$/ || !($i + 0 > 0)) bad = 1
    want = $5 * $6 * 4 * ($4 == "ce_loss" ? 1 : 2)
    if ($7 != want || ($4 == "memcpy" && $10 != 1)) bad = 1 }
  END { exit bad || n != lines }'
check "smr bench --format csv --dtype f64 --isa scalar" "$SMR" bench --time 0.001 --shapes 16x100 \
  --format csv --dtype f64 --isa scalar --kernels online
expect "bench csv f64: 8-byte traffic, scalar only" -F, \
  'NR > 1 { n++; if ($1 != "scalar" || $2 != "f64" || $7 != 16 * 100 * 8 * 2) bad = 1 } END { exit bad || n != 2 }'
# --threads: the kernels' count in the header and the CSV (memcpy stays at 1);
# 300x1000 is cut into two row tasks (smr.h)
check "smr bench --threads 2" "$SMR" bench --time 0.001 --shapes 300x1000,16x100 --threads 2 --isa scalar
expect "bench --threads 2: the header says threads 2 (memcpy 1)" \
  '/^smr .* bench: .* dtype f32, threads 2 \(memcpy 1\)$/ { f = 1 } END { exit !f }'
check "smr bench --threads 3 --format csv" "$SMR" bench --time 0.001 --shapes 300x1000 --threads 3 \
  --format csv --kernels softmax,ce_grad
expect "bench csv --threads 3: threads 3 for the kernels, 1 for memcpy" -F, \
  'NR > 1 { n++; if ($3 != ($4 == "memcpy" ? 1 : 3)) bad = 1 } END { exit bad || n != 3 * '"$n_avail"' }'
check "smr bench --format table" "$SMR" bench --time 0.001 --shapes 16x100 --format table --isa scalar
if tables scalar "$kernels"; then ok "bench --format table: the table"; else bad "bench --format table: the table"; fi

for bad_opt in "--dtype f16" "--isa bogus" "--isa scalar," "--isa=" "--isa SCALAR" \
               "--shapes 16x" "--shapes x100" "--shapes 16" "--shapes 16x100x3" "--shapes 0x100" \
               "--shapes 16x0" "--shapes 16x100,,8x8" "--shapes 16x100," "--shapes -16x100" \
               "--shapes 16X100" "--shapes 1.5x100" "--shapes=" "--shapes 99999999999999999999999x1" \
               "--shapes 99999999999x99999999999" "--time -1" "--time 0" "--time nan" "--time inf" \
               "--time abc" "--time=" "--kernels foo" "--kernels softmax,," "--format json" \
               "--threads 0" "--threads 257" "--threads two" "--threads -1" "--threads="; do
  # shellcheck disable=SC2086 # split the option and its value on purpose
  check_fail "bench $bad_opt" 2 "$SMR" bench --time 0.001 --shapes 16x100 $bad_opt
  if ! grep -q -- "${bad_opt%%[ =]*}" "$tmp/err"; then bad "the message for '$bad_opt' names the option"; fi
done
check_fail "bench with an argument" 2 "$SMR" bench extra
check_fail "bench --time without a value" 2 "$SMR" bench --time
if [ -n "$na" ]; then
  check_fail "bench --isa $na (not available here)" 1 "$SMR" bench --time 0.001 --shapes 16x100 --isa "$na"
  if grep -q "available here: $avail" "$tmp/err"; then ok "the message lists the available ISAs"
  else bad "the message lists the available ISAs"; fi
fi
# 2^48 elements: beyond this machine's memory (and any malloc)
check_fail "bench with a shape beyond memory" nz "$SMR" bench --time 0.001 --shapes 16777216x16777216
if grep -q "16777216x16777216" "$tmp/err"; then ok "the message names the shape"; else bad "the message names the shape"; fi

# --------------------------------------------------------------------------
# train / eval / predict on iris

M=$tmp/iris.smr
check "train iris --standardize" "$SMR" train "$IRIS" --standardize --lr 0.5 -o "$M"
expect "train prints a summary naming the model" \
  'index($0, "training accuracy") && index($0, "written to") { f = 1 } END { exit !f }'
if [ -s "$M" ]; then ok "the model file exists"; else bad "the model file exists"; fi

check "eval iris" "$SMR" eval "$M" "$IRIS"
expect "eval accuracy > 0.9" '/^accuracy:/ { f = ($2 + 0 > 0.9) } END { exit !f }'
expect "eval prints a log-loss" '/^log-loss: [0-9.]+$/ { f = 1 } END { exit !f }'
expect "eval prints a 3x3 confusion matrix summing to 150" \
  'c { r++; for (i = 2; i <= NF; i++) s += $i } /^confusion/ { c = 1; getline }
   END { exit !(r == 3 && s == 150) }'

n_iris=$(data_rows "$IRIS")
check "predict iris" "$SMR" predict "$M" "$IRIS"
cp "$tmp/out" "$tmp/pred"
expect "predict writes one line per data row ($n_iris)" "END { exit !(NR == $n_iris) }"
expect "predict writes class indices" '!/^[0-2]$/ { bad = 1 } END { exit bad }'

check "predict --proba" "$SMR" predict "$M" "$IRIS" --proba
cp "$tmp/out" "$tmp/proba1"
expect "predict --proba: header + one row per data row" "END { exit !(NR == $n_iris + 1) }"
expect "predict --proba: header of class names" 'NR == 1 { exit !($0 == "0,1,2") }'
expect "predict --proba: 3 probabilities per row summing to 1" \
  -F, 'NR > 1 { s = 0; for (i = 1; i <= NF; i++) { if ($i < 0 || $i > 1) bad = 1; s += $i }
               if (NF != 3 || s < 0.999999 || s > 1.000001) bad = 1 } END { exit bad }'
if awk -F, 'NR == FNR { p[FNR] = $1; next }
            FNR > 1 { m = 1; for (i = 2; i <= NF; i++) if ($i > $m) m = i
                      if (m - 1 != p[FNR - 1]) bad = 1 }
            END { exit bad }' "$tmp/pred" "$tmp/proba1"; then
  ok "predict == argmax(predict --proba)"
else
  bad "predict == argmax(predict --proba)"
fi

# sum over rows of the largest probability
maxsum() { awk -F, 'NR > 1 { m = $1; for (i = 2; i <= NF; i++) if ($i > m) m = $i; s += m }
                    END { printf "%.9f\n", s }' "$1"; }
check "predict --temperature 1" "$SMR" predict "$M" "$IRIS" --proba --temperature 1
cp "$tmp/out" "$tmp/probaT1"
if awk -F, 'NR == FNR { for (i = 1; i <= NF; i++) a[FNR, i] = $i; next }
            FNR > 1 { for (i = 1; i <= NF; i++) { d = $i - a[FNR, i]; if (d < -1e-7 || d > 1e-7) bad = 1 } }
            END { exit bad }' "$tmp/proba1" "$tmp/probaT1"; then
  ok "--temperature 1 matches plain --proba"
else
  bad "--temperature 1 matches plain --proba"
fi
check "predict --temperature 0.5" "$SMR" predict "$M" "$IRIS" --proba --temperature 0.5
cp "$tmp/out" "$tmp/probaT05"
check "predict -p -t 4" "$SMR" predict "$M" "$IRIS" -p -t 4
cp "$tmp/out" "$tmp/probaT4"
expect "--temperature 4 rows sum to 1" \
  -F, 'NR > 1 { s = 0; for (i = 1; i <= NF; i++) s += $i; if (s < 0.999999 || s > 1.000001) bad = 1 } END { exit bad }'
s05=$(maxsum "$tmp/probaT05")
s1=$(maxsum "$tmp/proba1")
s4=$(maxsum "$tmp/probaT4")
if awk -v a="$s05" -v b="$s1" -v c="$s4" 'BEGIN { exit !(a > b && b > c) }'; then
  ok "lower temperature sharpens, higher flattens ($s05 > $s1 > $s4)"
else
  bad "lower temperature sharpens, higher flattens ($s05 > $s1 > $s4)"
fi
check "predict --temperature without --proba" "$SMR" predict "$M" "$IRIS" --temperature 3
if cmp -s "$tmp/out" "$tmp/pred"; then ok "temperature does not change the argmax"; else bad "temperature does not change the argmax"; fi

# features without a label column: by column count, and with --no-labels
cut -d, -f1-4 "$IRIS" >"$tmp/features.csv"
check "predict on a features-only CSV" "$SMR" predict "$M" "$tmp/features.csv"
if cmp -s "$tmp/out" "$tmp/pred"; then ok "features-only CSV predicts the same"; else bad "features-only CSV predicts the same"; fi
check "predict --no-labels" "$SMR" predict "$M" "$tmp/features.csv" --no-labels
if cmp -s "$tmp/out" "$tmp/pred"; then ok "--no-labels predicts the same"; else bad "--no-labels predicts the same"; fi
check "predict --label-column label" "$SMR" predict "$M" "$IRIS" --label-column label
if cmp -s "$tmp/out" "$tmp/pred"; then ok "--label-column predicts the same"; else bad "--label-column predicts the same"; fi
run sh -c '"$1" predict "$2" - <"$3"' sh "$SMR" "$M" "$IRIS"
if [ "$rc" -eq 0 ] && cmp -s "$tmp/out" "$tmp/pred"; then ok "predict reads stdin (-)"; else bad "predict reads stdin (-)"; fi
tr ',' ';' <"$IRIS" >"$tmp/semi.csv"
check "predict --delimiter ';'" "$SMR" predict "$M" "$tmp/semi.csv" --delimiter ';'
if cmp -s "$tmp/out" "$tmp/pred"; then ok "--delimiter predicts the same"; else bad "--delimiter predicts the same"; fi
check "eval --delimiter ';'" "$SMR" eval "$M" "$tmp/semi.csv" --delimiter ';'

check_fail "predict with the wrong feature count" 1 "$SMR" predict "$M" "$DATA/wine.csv"
check_fail "eval with the wrong feature count" 1 "$SMR" eval "$M" "$DATA/wine.csv"
check_fail "eval without a label column" 1 "$SMR" eval "$M" "$tmp/features.csv"

# f32 model
M32=$tmp/iris32.smr
check "train --dtype f32" "$SMR" train "$IRIS" --standardize --lr 0.5 --dtype f32 -o "$M32"
check "eval f32 model" "$SMR" eval "$M32" "$IRIS"
expect "f32 eval accuracy > 0.9" '/^accuracy:/ { f = ($2 + 0 > 0.9) } END { exit !f }'
check "predict f32 --proba --temperature 2" "$SMR" predict "$M32" "$IRIS" --proba --temperature 2
expect "f32 --proba rows sum to 1" \
  -F, 'NR > 1 { s = 0; for (i = 1; i <= NF; i++) s += $i; if (s < 0.9999 || s > 1.0001) bad = 1 } END { exit bad }'
check_fail "f32: --temperature below the f32 range" 2 "$SMR" predict "$M32" "$IRIS" --temperature 1e-60

# --------------------------------------------------------------------------
# every train option once

MA=$tmp/all.smr
check "train with every option (mini-batch, step schedule, early stopping, validation)" \
  "$SMR" train "$IRIS" --output "$MA" --epochs 400 --batch-size 16 --l2 0.001 --lr 0.2 \
  --schedule step --step-size 50 --gamma 0.9 --decay 0.01 --lr-min 0.001 --no-shuffle \
  --shuffle-seed 7 --early-stopping --patience 20 --min-delta 1e-5 --validation-fraction 0.2 \
  --standardize --verbose --dtype f32 --seed 3 --label-column label --delimiter ,
expect "summary reports a validation loss" 'index($0, "validation loss") { f = 1 } END { exit !f }'
check "eval the every-option model" "$SMR" eval "$MA" "$IRIS"
expect "every-option model accuracy > 0.8" '/^accuracy:/ { f = ($2 + 0 > 0.8) } END { exit !f }'
check "train --schedule inv-time" "$SMR" train "$IRIS" -o "$MA" --epochs 50 --standardize \
  --schedule inv-time --decay 0.05 --batch-size 32 --shuffle-seed 1
check "train --schedule cosine" "$SMR" train "$IRIS" -o "$MA" --epochs 50 --standardize \
  --schedule cosine --lr 0.5 --lr-min 0.01
check "train --schedule constant --early-stopping" "$SMR" train "$IRIS" -o "$MA" --epochs 5000 \
  --standardize --lr 0.5 --early-stopping --patience 5 --min-delta 1e-3
expect "early stopping stops early" 'index($0, "stopped early)") { f = 1 } END { exit !f }'
check "train --option=value form" "$SMR" train "$IRIS" --output="$MA" --epochs=20 --lr=0.3
check "train reads stdin (-)" sh -c '"$1" train - -o "$2" --epochs 20 <"$3"' sh "$SMR" "$MA" "$IRIS"

# --------------------------------------------------------------------------
# train: solvers, weights, tolerance and the workspace

# objective / field NAME: from the last train summary, the final objective,
# the epoch count ("for N epochs"), the evaluations ("N evaluations").
objective() { sed -n 's/.*Final training objective \([^,]*\),.*/\1/p' "$tmp/out"; }
epochs_run() { sed -n 's/.* for \([0-9]*\) epochs\{0,1\} (.*/\1/p' "$tmp/out"; }
evaluations() { sed -n 's/.* \([0-9]*\) evaluations,.*/\1/p' "$tmp/out"; }
# same_as A B DESC / differs A B DESC: two objectives (strings) agree or not.
same_as() { if [ -n "$1" ] && [ "$1" = "$2" ]; then ok "$3 ($1)"; else bad "$3 ($1 vs $2)"; fi; }
differs() { if [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]; then ok "$3 ($1 vs $2)"; else bad "$3 ($1 vs $2)"; fi; }

MS=$tmp/solver.smr
check "train --solver lbfgs --l2 0.01 --standardize" "$SMR" train "$IRIS" --solver lbfgs --l2 0.01 \
  --standardize -o "$MS"
expect "lbfgs reaches the optimum 0.243677 and says converged yes" \
  'index($0, "with solver lbfgs for ") && index($0, "objective 0.243677,") && index($0, "converged yes") &&
   index($0, "(converged: max |gradient entry| <= --tol)") { f = 1 } END { exit !f }'
expect "lbfgs reports a gradient norm <= 1e-6 and its evaluations" \
  'match($0, /gradient norm [^ ]+ \(max \|entry\|\)/) { g = substr($0, RSTART + 14) + 0 }
   / [0-9]+ evaluations,/ { e = 1 } END { exit !(e && g > 0 && g <= 1e-6) }'
lb_obj=$(objective)
lb_epochs=$(epochs_run)
check "eval the lbfgs model" "$SMR" eval "$MS" "$IRIS"
expect "lbfgs model accuracy 0.96" '/^accuracy:/ { f = ($2 + 0 == 0.96) } END { exit !f }'
check "train --solver lbfgs --lbfgs-history 1" "$SMR" train "$IRIS" --solver lbfgs --l2 0.01 \
  --standardize --lbfgs-history 1 -o "$MS"
same_as "$(objective)" "$lb_obj" "--lbfgs-history 1 reaches the same optimum"
differs "$(epochs_run)" "$lb_epochs" "--lbfgs-history 1 takes another number of iterations"
cp "$MS" "$tmp/h1.smr"
check "train --solver lbfgs --lbfgs-history 30" "$SMR" train "$IRIS" --solver lbfgs --l2 0.01 \
  --standardize --lbfgs-history 30 -o "$tmp/h30.smr"
same_as "$(epochs_run)" "$lb_epochs" "--lbfgs-history 30 is the default (auto) on iris"
check "train --solver lbfgs --lbfgs-history 0" "$SMR" train "$IRIS" --solver lbfgs --l2 0.01 \
  --standardize --lbfgs-history 0 -o "$tmp/h0.smr"
if cmp -s "$tmp/h0.smr" "$tmp/h30.smr" && ! cmp -s "$tmp/h0.smr" "$tmp/h1.smr"; then
  ok "--lbfgs-history 0 (auto) writes the model of 30 pairs, not that of 1"
else bad "--lbfgs-history 0 (auto) writes the model of 30 pairs, not that of 1"; fi
check "train --solver lbfgs --tol 1e-2" "$SMR" train "$IRIS" --solver lbfgs --l2 0.01 --standardize \
  --tol 1e-2 -o "$MS"
if [ "$(epochs_run)" -lt "$lb_epochs" ] && grep -q 'converged yes' "$tmp/out"; then
  ok "--tol 1e-2 stops earlier ($(epochs_run) < $lb_epochs iterations), converged yes"
else
  bad "--tol 1e-2 stops earlier ($(epochs_run) < $lb_epochs iterations), converged yes"
fi
check "train --solver lbfgs --batch-size 150 (full batch)" "$SMR" train "$IRIS" --solver lbfgs \
  --l2 0.01 --standardize --batch-size 150 -o "$MS"
same_as "$(objective)" "$lb_obj" "lbfgs with --batch-size n is the full batch"
check "train --solver lbfgs --validation-fraction 0.2 --batch-size 120" "$SMR" train "$IRIS" \
  --solver lbfgs --standardize --validation-fraction 0.2 --batch-size 120 -o "$MS"
check "train gd --tol 1 --epochs 20" "$SMR" train "$IRIS" --standardize --lr 0.1 --tol 1 --epochs 20 -o "$MS"
expect "gd names its solver, runs all epochs and is converged at tol 1" \
  'index($0, "with solver gd for 20 epochs (ran all epochs") && index($0, "converged yes") { f = 1 }
   END { exit !f }'
check "train gd --epochs 20" "$SMR" train "$IRIS" --standardize --epochs 20 -o "$MS"
expect "gd at the default tol: converged no" 'index($0, "converged no") { f = 1 } END { exit !f }'
check "train gd --batch-size 16 --epochs 7" "$SMR" train "$IRIS" --standardize --batch-size 16 \
  --epochs 7 -o "$MS"
same_as "$(evaluations)" 70 "gd counts one evaluation per mini-batch (7 x 10)"

check "train --solver sgd" "$SMR" train "$IRIS" --solver sgd --standardize --epochs 20 -o "$MS"
expect "sgd names its solver" 'index($0, "with solver sgd for 20 epochs") { f = 1 } END { exit !f }'
sgd_obj=$(objective)
check "train --solver sgd --momentum 0" "$SMR" train "$IRIS" --solver sgd --momentum 0 --standardize \
  --epochs 20 -o "$MS"
differs "$(objective)" "$sgd_obj" "--momentum 0 changes the sgd result"
check "train --solver sgd --nesterov" "$SMR" train "$IRIS" --solver sgd --nesterov --standardize \
  --epochs 20 -o "$MS"
differs "$(objective)" "$sgd_obj" "--nesterov changes the sgd result"
check "train --solver sgd with mini-batches" "$SMR" train "$IRIS" --solver sgd --momentum 0.5 \
  --batch-size 32 --lr 0.05 --standardize --epochs 5 -o "$MS"
same_as "$(evaluations)" 25 "sgd counts one evaluation per mini-batch (5 x 5)"

check "train --solver adam" "$SMR" train "$IRIS" --solver adam --standardize --epochs 20 -o "$MS"
expect "adam names its solver" 'index($0, "with solver adam for 20 epochs") { f = 1 } END { exit !f }'
adam_obj=$(objective)
for o in "--beta1 0.5" "--beta2 0.9" "--adam-eps 0.1"; do
  # shellcheck disable=SC2086 # split the option and its value on purpose
  check "train --solver adam $o" "$SMR" train "$IRIS" --solver adam $o --standardize --epochs 20 -o "$MS"
  differs "$(objective)" "$adam_obj" "$o changes the adam result"
done
check "train --solver gd (explicit)" "$SMR" train "$IRIS" --solver gd --standardize --epochs 20 -o "$MS"
expect "gd names its solver" 'index($0, "with solver gd for 20 epochs") { f = 1 } END { exit !f }'

# class weights: wine is unbalanced (59/71/48 rows)
WINE=$DATA/wine.csv
check "train wine --class-weight none" "$SMR" train "$WINE" --solver lbfgs --l2 0.01 --standardize \
  --class-weight none -o "$MS"
cw_none=$(objective)
check "train wine (no --class-weight)" "$SMR" train "$WINE" --solver lbfgs --l2 0.01 --standardize -o "$MS"
same_as "$(objective)" "$cw_none" "--class-weight none is the default"
check "train wine --class-weight balanced" "$SMR" train "$WINE" --solver lbfgs --l2 0.01 --standardize \
  --class-weight balanced -o "$MS"
differs "$(objective)" "$cw_none" "--class-weight balanced changes the objective"
check "train wine --class-weight 1,1,1" "$SMR" train "$WINE" --solver lbfgs --l2 0.01 --standardize \
  --class-weight 1,1,1 -o "$MS"
same_as "$(objective)" "$cw_none" "--class-weight 1,1,1 equals none"
check "train wine --class-weight 1,2,0.5" "$SMR" train "$WINE" --solver lbfgs --l2 0.01 --standardize \
  --class-weight 1,2,0.5 -o "$MS"
differs "$(objective)" "$cw_none" "--class-weight 1,2,0.5 changes the objective"
check_fail "--class-weight with 2 weights for 3 classes" 2 "$SMR" train "$IRIS" --class-weight 1,2 -o "$MS"
if grep -q -- "--class-weight gives 2 weights, but .* has 3 classes" "$tmp/err"; then
  ok "the message names both counts"
else
  bad "the message names both counts"
fi
check_fail "--class-weight 0,0,0 (every row weighs 0)" 1 "$SMR" train "$IRIS" --class-weight 0,0,0 -o "$MS"

# sample weights from a column, which is not a feature: all 1 = unweighted;
# all 2 doubles the CE, so with twice the l2 the optimum is the same and the
# objective doubles (2 x 0.243677)
awk -F, 'BEGIN { OFS = "," } NR == 1 { print $1, $2, "w", $3, $4, $5; next }
         { print $1, $2, 1, $3, $4, $5 }' "$IRIS" >"$tmp/w1.csv"
awk -F, 'BEGIN { OFS = "," } NR == 1 { print $1, $2, "w", $3, $4, $5; next }
         { print $1, $2, 2, $3, $4, $5 }' "$IRIS" >"$tmp/w2.csv"
check "train --sample-weight-column w (all 1)" "$SMR" train "$tmp/w1.csv" --sample-weight-column w \
  --solver lbfgs --l2 0.01 --standardize -o "$MS"
expect "the weight column is not a feature (4 features)" \
  'index($0, "(4 features, 3 classes") { f = 1 } END { exit !f }'
same_as "$(objective)" "$lb_obj" "weights of 1 give the unweighted optimum"
check "predict with the weighted model on iris" "$SMR" predict "$MS" "$IRIS"
check "train --sample-weight-column w (all 2)" "$SMR" train "$tmp/w2.csv" --sample-weight-column w \
  --solver lbfgs --l2 0.02 --standardize -o "$MS"
same_as "$(objective)" 0.487354 "weights of 2 with l2 0.02 double the objective"
awk -F, 'BEGIN { OFS = "," } { sub(/\r$/, "") } NR == 1 { print $0, "w"; next } { print $0, NR % 3 }' \
  "$IRIS" >"$tmp/wl.csv"
check "train --sample-weight-column with --label-column" "$SMR" train "$tmp/wl.csv" \
  --sample-weight-column w --label-column label --solver lbfgs --l2 0.01 --standardize -o "$MS"
differs "$(objective)" "$lb_obj" "uneven sample weights change the objective"
check_fail "--sample-weight-column: no such column" 1 "$SMR" train "$IRIS" --sample-weight-column nope -o "$MS"
if grep -q "nope" "$tmp/err"; then ok "the message names the column"; else bad "the message names the column"; fi
check_fail "--sample-weight-column: the label column" 1 "$SMR" train "$IRIS" --sample-weight-column label -o "$MS"
check_fail "--sample-weight-column equal to --label-column" 2 "$SMR" train "$IRIS" --sample-weight-column label \
  --label-column label -o "$MS"
printf 'a,w,label\n1,1,0\n2,-1,1\n3,1,0\n' >"$tmp/wneg.csv"
check_fail "a negative sample weight" 1 "$SMR" train "$tmp/wneg.csv" --sample-weight-column w -o "$MS"
if grep -q "row 2, column 'w'.*negative" "$tmp/err"; then ok "the message names the row and column"
else bad "the message names the row and column"; fi
printf 'a,w,label\n1,0,0\n2,0,1\n' >"$tmp/wzero.csv"
check_fail "sample weights all 0" 1 "$SMR" train "$tmp/wzero.csv" --sample-weight-column w -o "$MS"
printf 'w,label\n1,0\n2,1\n' >"$tmp/wonly.csv"
check_fail "no feature besides the sample weights" 1 "$SMR" train "$tmp/wonly.csv" --sample-weight-column w -o "$MS"

# the workspace: 70000 rows x 2 classes of f64 need two 1 MiB row blocks
awk 'BEGIN { srand(1); print "a,b,label"
             for (i = 0; i < 70000; i++) { a = rand(); b = rand(); printf "%.4f,%.4f,%d\n", a, b, (a + b > 1) } }' \
  >"$tmp/blocks.csv"
check "train 70000 rows (default workspace)" "$SMR" train "$tmp/blocks.csv" --solver lbfgs --l2 0.01 -o "$MS"
ws_obj=$(objective)
check "train 70000 rows --workspace-mb 1" "$SMR" train "$tmp/blocks.csv" --solver lbfgs --l2 0.01 \
  --workspace-mb 1 -o "$MS"
same_as "$(objective)" "$ws_obj" "--workspace-mb 1 (two row blocks) gives the same objective"

# threads: the CE sums are the same on any count; the products of the BLAS
# may round differently, so the objective agrees to the printed digits
check "train 70000 rows --threads 2" "$SMR" train "$tmp/blocks.csv" --solver lbfgs --l2 0.01 \
  --threads 2 -o "$MS"
same_as "$(objective)" "$ws_obj" "--threads 2 reaches the same objective"
check "train --threads 2, twice" "$SMR" train "$tmp/blocks.csv" --solver lbfgs --l2 0.01 \
  --threads 2 -o "$tmp/t2.smr"
if cmp -s "$MS" "$tmp/t2.smr"; then ok "two runs on 2 threads write the same model file"
else bad "two runs on 2 threads write the same model file"; fi

run "$SMR" train --help
for o in --solver --momentum --nesterov --beta1 --beta2 --adam-eps --lbfgs-history --tol \
         --class-weight --sample-weight-column --workspace-mb --threads; do
  if grep -q -- "$o" "$tmp/out"; then ok "train --help documents $o"; else bad "train --help documents $o"; fi
done

# bad values: exit 2 before reading the data, the message names the option
for bad_opt in "--solver bogus" "--solver GD" "--solver=" "--momentum 1" "--momentum -0.1" \
               "--momentum nan" "--momentum 0.5x" "--beta1 1" "--beta1 -1" "--beta2 1.5" "--beta2 abc" \
               "--adam-eps 0" "--adam-eps -1e-8" "--adam-eps inf" \
               "--lbfgs-history -1" "--lbfgs-history 2.5" "--lbfgs-history 99999999999999999999" \
               "--tol -1" "--tol nan" "--tol 1e-3x" "--tol=" "--class-weight bogus" \
               "--class-weight 1,,2" "--class-weight 1,2," "--class-weight ,1" "--class-weight 1,-1,1" \
               "--class-weight 1,nan,1" "--class-weight 1,inf,1" "--class-weight=" "--workspace-mb 0" \
               "--workspace-mb -1" "--workspace-mb 1.5" "--workspace-mb 99999999999999999999" \
               "--threads 0" "--threads 257" "--threads -1" "--threads 2x" "--threads=" \
               "--sample-weight-column=" "--nesterov=yes"; do
  # shellcheck disable=SC2086 # split the option and its value on purpose
  check_fail "train $bad_opt" 2 "$SMR" train "$tmp/missing.csv" -o "$MS" $bad_opt
  if ! grep -q -- "${bad_opt%%[ =]*}" "$tmp/err"; then bad "the message for '$bad_opt' names the option"; fi
done
check_fail "--solver without a value" 2 "$SMR" train "$IRIS" -o "$MS" --solver

# options of another solver: exit 2, the message names the option and solver
for case in "gd:--momentum 0.5" "adam:--momentum 0.5" "lbfgs:--nesterov" "sgd:--beta1 0.5" \
            "gd:--beta2 0.9" "lbfgs:--adam-eps 1e-6" "gd:--lbfgs-history 5" "adam:--lbfgs-history 5" \
            "lbfgs:--lr 0.1" "lbfgs:--schedule cosine" "lbfgs:--step-size 5" "lbfgs:--gamma 0.5" \
            "lbfgs:--decay 0.1" "lbfgs:--lr-min 0.01"; do
  sv=${case%%:*}
  o=${case#*:}
  # shellcheck disable=SC2086 # split the option and its value on purpose
  check_fail "train --solver $sv $o" 2 "$SMR" train "$tmp/missing.csv" -o "$MS" --solver "$sv" $o
  if grep -q -- "${o%% *} .*$sv" "$tmp/err"; then ok "the message names ${o%% *} and $sv"
  else bad "the message names ${o%% *} and $sv"; fi
done
# the default solver: lbfgs for a full batch, gd when --lr, a schedule
# option or --batch-size N > 0 is given
check "train, no solver options" "$SMR" train "$IRIS" --standardize --l2 0.01 -o "$MS"
expect "the default solver is lbfgs (full batch), at the optimum" \
  'index($0, "with solver lbfgs for ") && index($0, "objective 0.243677,") { f = 1 } END { exit !f }'
for o in "--lr 0.2" "--schedule cosine" "--batch-size 16" "--decay 0.1"; do
  # shellcheck disable=SC2086 # the option and its value
  check "train $o, no --solver" "$SMR" train "$IRIS" --standardize --epochs 5 $o -o "$MS"
  expect "train $o: the default solver is gd" 'index($0, "with solver gd for 5 epochs") { f = 1 } END { exit !f }'
done
check_fail "--momentum with the default solver" 2 "$SMR" train "$IRIS" -o "$MS" --momentum 0.5
if grep -q -- "--momentum applies only to --solver sgd, not to lbfgs (the default solver)" "$tmp/err"; then
  ok "the message says the default solver is lbfgs"
else
  bad "the message says the default solver is lbfgs"
fi
check_fail "lbfgs with --batch-size below n" 2 "$SMR" train "$IRIS" -o "$MS" --solver lbfgs --batch-size 16
if grep -q -- "--batch-size 16 is smaller than the 150 training rows" "$tmp/err"; then
  ok "the message names --batch-size and the training rows"
else
  bad "the message names --batch-size and the training rows"
fi

# --------------------------------------------------------------------------
# usage errors: exit 2, message on stderr

check_fail "no command" 2 "$SMR"
check_fail "unknown command" 2 "$SMR" frobnicate
check_fail "unknown program option" 2 "$SMR" --frobnicate
check_fail "help for an unknown command" 2 "$SMR" help frobnicate
check_fail "unknown train option" 2 "$SMR" train "$IRIS" -o "$MA" --frobnicate
check_fail "unknown short option" 2 "$SMR" train "$IRIS" -o "$MA" -x
check_fail "flag given a value" 2 "$SMR" train "$IRIS" -o "$MA" --standardize=yes
check_fail "option missing its value" 2 "$SMR" train "$IRIS" -o "$MA" --epochs
check_fail "train without -o" 2 "$SMR" train "$IRIS"
check_fail "train without data" 2 "$SMR" train -o "$MA"
check_fail "train with two data files" 2 "$SMR" train "$IRIS" "$IRIS" -o "$MA"
for bad_opt in "--epochs abc" "--epochs 0" "--epochs -5" "--epochs 1.5" "--epochs 99999999999999999999999" \
               "--epochs= 10" "--l2 -1" "--l2 nan" "--l2 inf" "--lr 0" "--lr abc" "--lr 1e999" \
               "--dtype f16" "--schedule linear" "--step-size 0" "--gamma 0" "--gamma 1.5" \
               "--decay -0.1" "--lr-min -1" "--lr-min 0.5" "--patience 0" "--min-delta -1" \
               "--validation-fraction 1" "--validation-fraction -0.1" "--seed -1" "--seed x" \
               "--shuffle-seed 18446744073709551616" "--batch-size 2x" "--delimiter ab" \
               "--label-column="; do
  # shellcheck disable=SC2086 # split the option and its value on purpose
  check_fail "train $bad_opt" 2 "$SMR" train "$IRIS" -o "$MA" $bad_opt
  if ! grep -q -- "${bad_opt%%[ =]*}" "$tmp/err"; then bad "the message for '$bad_opt' names the option"; fi
done
check_fail "train --delimiter '\"'" 2 "$SMR" train "$IRIS" -o "$MA" --delimiter '"'
check_fail "predict --temperature 0" 2 "$SMR" predict "$M" "$IRIS" --temperature 0
check_fail "predict --temperature -1" 2 "$SMR" predict "$M" "$IRIS" --temperature -1
check_fail "predict --temperature inf" 2 "$SMR" predict "$M" "$IRIS" --temperature inf
check_fail "predict --temperature abc" 2 "$SMR" predict "$M" "$IRIS" --temperature abc
check_fail "predict with one argument" 2 "$SMR" predict "$M"
check_fail "predict --no-labels with --label-column" 2 "$SMR" predict "$M" "$IRIS" --no-labels --label-column label
check_fail "eval with three arguments" 2 "$SMR" eval "$M" "$IRIS" "$IRIS"
check_fail "info with an argument" 2 "$SMR" info extra

# --------------------------------------------------------------------------
# runtime errors: exit 1, message on stderr

check_fail "train on a missing file" 1 "$SMR" train "$tmp/missing.csv" -o "$MA"
check_fail "predict with a missing model" 1 "$SMR" predict "$tmp/missing.smr" "$IRIS"
check_fail "predict on a missing data file" 1 "$SMR" predict "$M" "$tmp/missing.csv"
check_fail "eval with a missing model" 1 "$SMR" eval "$tmp/missing.smr" "$IRIS"

# a feature beyond float range: an f32 run must say so, not report a
# divergence (the value would otherwise become inf); f64 takes it
printf 'a,b,label\n1,2,0\n1e39,2,1\n3,1,0\n' >"$tmp/big.csv"
check_fail "train --dtype f32 on a value beyond float" 1 "$SMR" train "$tmp/big.csv" -o "$MA" --dtype f32
if grep -q "row 2, column 'a'.*does not fit in f32" "$tmp/err"; then ok "the message names the row and column"
else bad "the message names the row and column"; fi
check "train --dtype f64 on the same file" "$SMR" train "$tmp/big.csv" -o "$tmp/big64.smr" --dtype f64 --epochs 5
printf 'a,b,label\n1,2,0\n4,2,1\n3,1,0\n' >"$tmp/small.csv"
check "train an f32 model on in-range data" "$SMR" train "$tmp/small.csv" -o "$tmp/small32.smr" --dtype f32 --epochs 5
check_fail "predict with an f32 model on a value beyond float" 1 "$SMR" predict "$tmp/small32.smr" "$tmp/big.csv"
check_fail "eval with an f32 model on a value beyond float" 1 "$SMR" eval "$tmp/small32.smr" "$tmp/big.csv"
check_fail "train to an unwritable path" 1 "$SMR" train "$IRIS" -o "$tmp/no/such/dir/m.smr" --epochs 5
printf 'a,b,label\n1,2,0\n3,x,1\n' >"$tmp/bad.csv"
check_fail "train on malformed CSV" 1 "$SMR" train "$tmp/bad.csv" -o "$MA"
if grep -q 'bad\.csv:3:' "$tmp/err"; then ok "the CSV error names file and line (bad.csv:3:)"; else bad "the CSV error names file and line (bad.csv:3:)"; fi
printf 'a,b,label\n1,2,0\n3,4\n' >"$tmp/short.csv"
check_fail "train on a row with too few fields" 1 "$SMR" train "$tmp/short.csv" -o "$MA"
printf 'a,b,label\n' >"$tmp/empty.csv"
check_fail "train on a CSV without rows" 1 "$SMR" train "$tmp/empty.csv" -o "$MA"
printf 'a,b,label\n1,2,0\n1,nan,1\n' >"$tmp/nan.csv"
check_fail "train on a CSV with NaN" 1 "$SMR" train "$tmp/nan.csv" -o "$MA"

# corrupted, truncated and foreign model files
size=$(wc -c <"$M" | tr -d ' ')
cp "$M" "$tmp/flip.smr"
off=$((size / 2))
byte=$(od -An -tu1 -j "$off" -N1 "$M" | tr -d ' ')
# shellcheck disable=SC2059 # the format is the octal escape we build
printf "\\$(printf '%03o' $(((byte + 1) % 256)))" |
  dd of="$tmp/flip.smr" bs=1 seek="$off" conv=notrunc 2>/dev/null
if cmp -s "$M" "$tmp/flip.smr"; then bad "the corrupted copy differs"; fi
check_fail "a model with a flipped byte is rejected" 1 "$SMR" predict "$tmp/flip.smr" "$IRIS"
check_fail "eval rejects the corrupted model" 1 "$SMR" eval "$tmp/flip.smr" "$IRIS"
head -c "$off" "$M" >"$tmp/trunc.smr"
check_fail "a truncated model is rejected" 1 "$SMR" predict "$tmp/trunc.smr" "$IRIS"
: >"$tmp/empty.smr"
check_fail "an empty model file is rejected" 1 "$SMR" predict "$tmp/empty.smr" "$IRIS"
check_fail "a CSV given as the model is rejected" 1 "$SMR" predict "$IRIS" "$IRIS"
check_fail "a directory given as the model is rejected" 1 "$SMR" predict "$tmp" "$IRIS"

# --------------------------------------------------------------------------
# string labels: names are stored in the model and predicted back

awk 'BEGIN {
  print "x1,x2,species"
  for (i = 0; i < 12; i++) {
    j = (i % 4) * 0.1
    printf "%.2f,%.2f,cat\n", 0.1 + j, 0.2 - j / 2
    printf "%.2f,%.2f,dog\n", 5.0 + j, 5.1 - j
    printf "%.2f,%.2f,\"great owl\"\n", 0.2 - j, 5.3 + j
  }
}' >"$tmp/pets.csv"
MP=$tmp/pets.smr
check "train on string labels" "$SMR" train "$tmp/pets.csv" --standardize --lr 0.5 --epochs 500 -o "$MP"
check "predict names" "$SMR" predict "$MP" "$tmp/pets.csv"
awk -F, 'NR > 1 { gsub(/"/, "", $3); print $3 }' "$tmp/pets.csv" >"$tmp/pets.truth"
if cmp -s "$tmp/out" "$tmp/pets.truth"; then ok "predicted names equal the true names"; else bad "predicted names equal the true names"; fi
check "predict --proba with names" "$SMR" predict "$MP" "$tmp/pets.csv" --proba
expect "the --proba header holds the sorted class names" 'NR == 1 { exit !($0 == "cat,dog,great owl") }'
cut -d, -f1,2 "$tmp/pets.csv" >"$tmp/pets-features.csv"
check "predict names from features only" "$SMR" predict "$MP" "$tmp/pets-features.csv"
if cmp -s "$tmp/out" "$tmp/pets.truth"; then ok "features-only input predicts the same names"; else bad "features-only input predicts the same names"; fi
check "eval with names" "$SMR" eval "$MP" "$tmp/pets.csv"
expect "eval with names: accuracy 1" '/^accuracy:/ { f = ($2 + 0 == 1) } END { exit !f }'
expect "eval with names: the matrix is labelled" '/^great owl / { f = 1 } END { exit !f }'
printf 'x1,x2,species\n0.1,0.2,cow\n' >"$tmp/cow.csv"
check_fail "eval rejects a class the model does not know" 1 "$SMR" eval "$MP" "$tmp/cow.csv"
awk -F, 'BEGIN { OFS = "," } NR > 1 { $5 = "c" $5 } { print }' "$IRIS" >"$tmp/named-iris.csv"
check_fail "eval rejects string labels for a model without names" 1 "$SMR" eval "$M" "$tmp/named-iris.csv"

# --------------------------------------------------------------------------
# output errors

if [ -w /dev/full ]; then
  run sh -c '"$1" predict "$2" "$3" >/dev/full' sh "$SMR" "$M" "$IRIS"
  if [ "$rc" -ne 0 ] && grep -q '^smr' "$tmp/err"; then ok "a failed write to stdout is an error"; else bad "a failed write to stdout is an error"; fi
fi

echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
