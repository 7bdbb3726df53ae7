#!/bin/sh
# test.sh - from a fresh Debian 12 machine, runs every test twice:
#   build-test: -Dwerror=true, release (-O3);
#   build-asan: AddressSanitizer + UndefinedBehaviorSanitizer.
# The last line is "N passed, N failed" over both runs; the exit status is
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

# count DIR: adds the results in DIR/meson-logs/testlog.json (one JSON object
# per line, each with a "result": OK, EXPECTEDFAIL, SKIP, FAIL, TIMEOUT, ...).
count() {
  log=$1/meson-logs/testlog.json
  [ -f "$log" ] || return 0
  counts=$(awk '
    match($0, /"result": *"[A-Z_]+"/) {
      r = substr($0, RSTART, RLENGTH)
      sub(/^"result": *"/, "", r)
      sub(/"$/, "", r)
      if (r == "OK" || r == "EXPECTEDFAIL") p++
      else if (r == "SKIP") s++
      else f++
    }
    END { print p + 0, f + 0, s + 0 }' "$log")
  p=${counts%% *}
  s=${counts##* }
  f=${counts#* }
  f=${f%% *}
  echo "$1: $p passed, $f failed, $s skipped"
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  total_skip=$((total_skip + s))
}

# run_suite DIR OPTIONS...: configure, build and test.
run_suite() {
  dir=$1
  echo "==> $dir"
  rm -f "$dir/meson-logs/testlog.json"
  if ! setup "$@" || ! meson compile -C "$dir"; then
    echo "$dir: the build failed"
    total_fail=$((total_fail + 1))
    return
  fi
  meson test -C "$dir" --print-errorlogs || true
  if [ ! -f "$dir/meson-logs/testlog.json" ]; then
    echo "$dir: meson test produced no log"
    total_fail=$((total_fail + 1))
    return
  fi
  count "$dir"
}

# build-test uses the default release build (-O3, what users get); build-asan
# uses -O2, so both optimization levels are tested.
run_suite build-test -Dwerror=true -Dbuildtype=release -Dtests=enabled

# allocator_may_return_null: an impossible allocation returns NULL as in libc
# (the library must turn it into SMR_ENOMEM) instead of aborting the test.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS ASAN_OPTIONS
run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true \
  -Dbuildtype=debugoptimized -Dtests=enabled

[ "$total_skip" -gt 0 ] && echo "($total_skip skipped)"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ] && [ "$total_pass" -gt 0 ]
