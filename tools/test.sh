#!/bin/sh
# test.sh - from a fresh Debian 12 machine, runs every test:
#   build-test: -Dwerror=true, release (-O3). Each Check test runs on the
#     best ISA of this CPU; those whose results depend on the dispatched ISA
#     (tests/meson.build: isa_dependent) then once per compiled ISA forced
#     with SMR_ISA (name@isa; skipped when this CPU lacks the ISA);
#   build-asan: the same under AddressSanitizer + UndefinedBehaviorSanitizer,
#     without the name@isa re-runs;
#   build-noblas: a release build without CBLAS (-Dblas=disabled), where the
#     ISAs' own blocked matrix products are the active ones: test_checkasm and
#     test_train on the best ISA;
#   build-tsan: ThreadSanitizer, test_isa_switch (smr_isa_select racing
#     the public kernels and fit on smr's threads);
#   build-fuzz: clang, libFuzzer + ASan + UBSan: each target in tests/fuzz
#     runs SMR_FUZZ_SECONDS (default 60) from its committed corpus; a crash
#     fails and its reproducer's path is printed (docs/FUZZING.md);
# and on an x86-64 machine, for the ISAs it may not have:
#   build-aarch64: a cross build for 64-bit ARM (NEON kernels), its suite
#     under qemu-aarch64 without the name@isa re-runs (test_checkasm
#     compares neon with scalar in its plain run; the
#     scalar kernels' own behaviour is tested natively);
#   haswell, nehalem: build-test's kernel-running Check tests (kernels, checkasm,
#     model, train), `smr demo` and `smr info` under
#     qemu-x86_64 emulating a Haswell (AVX2, no AVX-512) and a Nehalem (no
#     AVX) CPU. Dispatch must pick avx2 and scalar; the name@isa tests of
#     the ISAs that CPU lacks must skip; an instruction the CPU lacks kills
#     the test with SIGILL. What they leave out runs no kernel code the
#     others do not (io, solvers, the CLI: the core, compiled for the
#     baseline CPU; isa_switch: natively and under TSan; threads: natively
#     per ISA).
# The emulated runs set SMR_TEST_QUICK=1 (smaller sizes in test_checkasm) and
# SMR_EXPECT_ISA (test_checkasm checks the ISA dispatch chose).
# The last line is "N passed, N failed" over all runs; the exit status is
# non-zero when anything failed (a failed build counts as one failure) or no
# test ran.
set -u
cd "$(dirname "$0")/.." || exit 1

sh tools/install-deps.sh || exit 1

total_pass=0
total_fail=0
total_skip=0

# setup DIR OPTIONS...: configures DIR, reusing it when it already exists.
setup() {
  dir=$1
  shift
  if [ -f "$dir/meson-private/coredata.dat" ]; then
    meson setup --reconfigure "$dir" "$@" || meson setup --wipe "$dir" "$@"
  else
    rm -rf "$dir"
    meson setup "$dir" "$@"
  fi
}

# count LABEL LOG: adds the results in LOG, a meson testlog.json (one JSON
# object per line, each with a "result": OK, EXPECTEDFAIL, SKIP, FAIL,
# TIMEOUT, ...).
count() {
  counts=$(awk '
    match($0, /"result": *"[A-Z_]+"/) {
      r = substr($0, RSTART, RLENGTH)
      sub(/^"result": *"/, "", r)
      sub(/"$/, "", r)
      if (r == "OK" || r == "EXPECTEDFAIL") p++
      else if (r == "SKIP") s++
      else f++
    }
    END { print p + 0, f + 0, s + 0 }' "$2")
  p=${counts%% *}
  s=${counts##* }
  f=${counts#* }
  f=${f%% *}
  echo "$1: $p passed, $f failed, $s skipped"
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  total_skip=$((total_skip + s))
}

# build DIR OPTIONS...: configure and compile; a failed build counts as one
# failure (and returns 1).
build() {
  dir=$1
  echo "==> $dir"
  start=$(date +%s)
  if ! setup "$@" || ! meson compile -C "$dir"; then
    echo "$dir: the build failed"
    total_fail=$((total_fail + 1))
    return 1
  fi
  echo "$dir: built in $(($(date +%s) - start)) s"
}

# run_tests LABEL LOG COMMAND...: runs COMMAND, a meson test writing the
# test log LOG, then counts LOG. No log counts as one failure.
run_tests() {
  label=$1
  log=$2
  shift 2
  start=$(date +%s)
  rm -f "$log"
  "$@" || true
  if [ ! -f "$log" ]; then
    echo "$label: meson test produced no log"
    total_fail=$((total_fail + 1))
  else
    count "$label" "$log"
  fi
  echo "$label: tests ran in $(($(date +%s) - start)) s"
}

# build-test uses the default release build (-O3, what users get); build-asan
# uses -O2, so both optimization levels are tested.
native_ok=0
if build build-test -Dwerror=true -Dbuildtype=release -Dtests=enabled; then
  native_ok=1
  run_tests build-test build-test/meson-logs/testlog.json \
    meson test -C build-test --print-errorlogs
fi

# allocator_may_return_null: an impossible allocation returns NULL as in libc
# (the library must turn it into SMR_ENOMEM) instead of aborting the test.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS ASAN_OPTIONS
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true \
  -Dbuildtype=debugoptimized -Dtests=enabled; then
  # without the name@isa re-runs: test_checkasm runs every
  # available ISA's kernels and public entries under the sanitizers
  run_tests build-asan build-asan/meson-logs/testlog.json \
    meson test -C build-asan --print-errorlogs --no-suite isa
fi
unset UBSAN_OPTIONS ASAN_OPTIONS

# Without CBLAS. Where OpenBLAS is installed, build-test's and build-asan's
# active tables take the wide matrix products (k > 64 classes) from it;
# test_checkasm checks every ISA's own kernels there too, but only here are they
# what the trainer runs for every shape.
if build build-noblas -Dblas=disabled -Dwerror=true -Dbuildtype=release -Dtests=enabled \
  -Dbench=disabled; then
  run_tests build-noblas build-noblas/meson-logs/testlog.json \
    meson test -C build-noblas --print-errorlogs checkasm train
fi

# ThreadSanitizer: only the concurrency test is built and run (the library
# under TSan is several times slower; the other suites run under ASan).
if build build-tsan -Db_sanitize=thread -Db_lundef=false -Dbuildtype=debugoptimized \
  -Dtests=enabled -Dbench=disabled; then
  run_tests build-tsan build-tsan/meson-logs/testlog.json \
    env TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    meson test -C build-tsan --print-errorlogs isa_switch
fi

# fuzz TARGET: runs build-fuzz's TARGET for SMR_FUZZ_SECONDS from a copy of
# its corpus (new inputs go to build-fuzz, never into the repository).
fuzz_seconds=${SMR_FUZZ_SECONDS:-60}
fuzz() {
  t=$1
  work=build-fuzz/corpus-$t
  mkdir -p "$work" build-fuzz/artifacts
  dict=""
  [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
  start=$(date +%s)
  # shellcheck disable=SC2086 # $dict is empty or one word
  if build-fuzz/tests/fuzz/fuzz_"$t" $dict -max_total_time="$fuzz_seconds" -print_final_stats=1 \
    -artifact_prefix="build-fuzz/artifacts/$t-" "$work" "tests/fuzz/corpus/$t" \
    >"build-fuzz/fuzz-$t.log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build-fuzz/fuzz-$t.log")
    cov=$(grep -o 'cov: [0-9]*' "build-fuzz/fuzz-$t.log" | tail -1)
    echo "fuzz $t: ok, $execs executions in $(($(date +%s) - start)) s, $cov"
    total_pass=$((total_pass + 1))
  else
    echo "fuzz $t: FAILED; log build-fuzz/fuzz-$t.log; reproducer:"
    grep -E 'Test unit written to|^fuzz_' "build-fuzz/fuzz-$t.log" | head -5
    tail -30 "build-fuzz/fuzz-$t.log"
    total_fail=$((total_fail + 1))
  fi
}
if command -v clang >/dev/null 2>&1; then
  CC=clang
  export CC
  if build build-fuzz -Dfuzz=enabled -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized -Dtests=disabled -Dbench=disabled; then
    for t in csv model kernels; do fuzz "$t"; done
  fi
  unset CC
else
  echo "==> clang not found: no fuzz targets"
  total_fail=$((total_fail + 1))
fi

# emulate_x86 CPU ISA TESTS [LACKING...]: build-test's Check tests named in
# TESTS (a comma-separated list) and the name@isa tests of the LACKING ISAs
# under qemu-x86_64 -cpu CPU, which must choose ISA and skip every LACKING
# one; then its CLI test and `smr info` under the same CPU. SMR_TEST_EMULATOR lets test_kernels and
# test_cli.sh start their child processes under it too.
# OPENBLAS_CORETYPE is set to CPU for these runs only: the machine's
# environment may force a core type for the real CPU (OPENBLAS_CORETYPE=
# Haswell on some Zen machines, which older OpenBLAS builds need), and
# OpenBLAS would then run Haswell's AVX2 kernels on the emulated Nehalem
# and die of SIGILL. The native runs above keep the environment's value.
emulate_x86() {
  cpu=$1
  isa=$2
  wanted=$3
  shift 3
  qemu="qemu-x86_64 -cpu $cpu"
  name=$(printf '%s' "$cpu" | tr '[:upper:]' '[:lower:]')
  echo "==> $name: build-test under $qemu"
  suites="--suite check"
  for lacking in "$@"; do suites="$suites --suite isa-$lacking"; done
  # the tests of those suites by name: the wanted plain ones, every name@isa
  # shellcheck disable=SC2086 # $suites is a word list
  tests=$(meson test -C build-test --no-rebuild --list $suites 2>/dev/null | sed 's|^.* / ||' |
    grep -x -e "$(printf '%s' "$wanted" | sed 's/,/\\|/g')" -e '.*@.*')
  if [ -z "$tests" ]; then # no names would run every test under qemu
    echo "$name: meson test --list found no tests"
    total_fail=$((total_fail + 1))
    return
  fi
  echo "$name: "$tests
  # With --wrapper, meson names the log LOGBASE-<wrapper program>.json.
  log=build-test/meson-logs/$name-qemu-x86_64.json
  # shellcheck disable=SC2086 # $suites is a word list
  run_tests "$name" "$log" \
    env OPENBLAS_CORETYPE="$cpu" SMR_TEST_QUICK=1 SMR_EXPECT_ISA="$isa" SMR_TEST_EMULATOR="$qemu" \
    CK_TIMEOUT_MULTIPLIER=10 \
    meson test -C build-test --no-rebuild --print-errorlogs --logbase "$name" --wrapper "$qemu" \
    --timeout-multiplier "$emulated_timeout" $tests
  # A name@isa test of a lacking ISA that passed ran on another ISA.
  if [ -f "$log" ]; then
    for lacking in "$@"; do
      ran=$(awk -v isa="$lacking" '
        index($0, "@" isa "\"") && !/"result": *"SKIP"/ { n++ } END { print n + 0 }' "$log")
      if [ "$ran" -ne 0 ]; then
        echo "$name: $ran test(s) with SMR_ISA=$lacking did not skip"
        total_fail=$((total_fail + ran))
      fi
    done
  fi
  # the tool end to end on that CPU: smr demo trains and evaluates (the CLI
  # test itself runs natively and on aarch64; it is the same C on any x86)
  # shellcheck disable=SC2086
  held=$(OPENBLAS_CORETYPE="$cpu" $qemu build-test/tools/smr demo --dtype f32 2>/dev/null |
    sed -n 's/^held-out accuracy: \([0-9.]*\).*/\1/p')
  if [ -n "$held" ] && awk -v a="$held" 'BEGIN { exit !(a >= 0.9) }'; then
    echo "$name: smr demo: held-out accuracy $held"
    total_pass=$((total_pass + 1))
  else
    echo "$name: smr demo failed (held-out accuracy '$held', expected >= 0.9)"
    total_fail=$((total_fail + 1))
  fi
  # $qemu is a word list; qemu warns on stderr about CPU features TCG lacks
  # shellcheck disable=SC2086
  active=$(OPENBLAS_CORETYPE="$cpu" $qemu build-test/tools/smr info 2>/dev/null | sed -n 's/^active: //p')
  if [ "$active" = "$isa" ]; then
    echo "$name: smr info: active: $active"
    total_pass=$((total_pass + 1))
  else
    echo "$name: smr info: active: '$active', expected $isa"
    total_fail=$((total_fail + 1))
  fi
}

# Emulated tests get twice meson's per-test timeouts: how fast qemu runs
# depends on the host (test_threads under qemu -cpu Haswell took 148 s on
# one Zen machine and more than 900 s on another).
emulated_timeout=2

if [ "$(uname -m)" != x86_64 ]; then
  echo "==> not an x86-64 machine: no aarch64 cross build, no emulated x86 CPUs"
else
  # NEON is always there on AArch64, so the plain tests run on neon (which
  # SMR_EXPECT_ISA checks); the name@isa re-runs are left out (see the top),
  # and so is the hostile-input script (the CLI's input handling: the same C
  # as on x86, where it runs natively).
  if build build-aarch64 --cross-file tools/cross/aarch64-linux-gnu.ini -Dwerror=true \
    -Dbuildtype=release -Dtests=enabled -Dneon=enabled; then
    run_tests build-aarch64 build-aarch64/meson-logs/testlog.json \
      env SMR_TEST_QUICK=1 SMR_EXPECT_ISA=neon \
      meson test -C build-aarch64 --print-errorlogs --timeout-multiplier "$emulated_timeout" \
      --no-suite isa --no-suite hostile
  fi
  if [ "$native_ok" -eq 1 ]; then
    # test_threads is not run under x86 emulation: the thread-count
    # invariance of the scalar and avx2 kernels is tested natively
    # (threads@scalar, threads@avx2), that of neon on aarch64; under qemu
    # -cpu Haswell it alone ran past 900 s on this project's CI machine.
    emulate_x86 Haswell avx2 kernels,checkasm,model,train avx512
    emulate_x86 Nehalem scalar kernels,checkasm,model,train avx2 avx512
  else
    echo "==> build-test failed: no emulated x86 CPUs"
  fi
fi

[ "$total_skip" -gt 0 ] && echo "($total_skip skipped)"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
