# cli_lib.sh - what tests/test_cli.sh and tests/test_hostile.sh share:
# the temporary directory, the emulator wrapper and the check helpers.
# Sourced with the script's arguments (SMR_BINARY DATA_DIR): sets SMR, DATA,
# IRIS, tmp (removed at exit), and wraps SMR under SMR_TEST_EMULATOR. The
# sourcing script may set DIGITS to need that file too.
# shellcheck shell=sh disable=SC2034 # pass/failed/rc are read by the sourcing script
if [ $# -ne 2 ]; then
  echo "usage: $0 SMR_BINARY DATA_DIR" >&2
  exit 2
fi
SMR=$1
DATA=$2
IRIS=$DATA/iris.csv
if [ ! -x "$SMR" ] || [ ! -f "$IRIS" ] || [ ! -f "${DIGITS:-$IRIS}" ]; then
  echo "FAIL - need an executable smr ($SMR), $IRIS ${DIGITS:-}"
  echo "0 passed, 1 failed"
  exit 1
fi

if [ "${SMR_TEST_CROSS:-}" = 1 ] && [ -z "${SMR_TEST_EMULATOR:-}" ]; then
  echo "SKIP - a cross build without an emulator cannot run $SMR"
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smr-cli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

# Under an emulator, $SMR becomes a script that runs smr under it, so that
# every use below (directly, through env and sh -c) goes through it.
if [ -n "${SMR_TEST_EMULATOR:-}" ]; then
  quoted=$(printf '%s\n' "$SMR" | sed "s/'/'\\\\''/g")
  {
    echo '#!/bin/sh'
    echo "exec $SMR_TEST_EMULATOR '$quoted' \"\$@\""
  } >"$tmp/smr" || exit 1
  chmod +x "$tmp/smr" || exit 1
  echo "# smr runs as: $SMR_TEST_EMULATOR $SMR"
  SMR=$tmp/smr
fi

pass=0
failed=0
rc=0

ok() {
  pass=$((pass + 1))
  echo "ok - $1"
}

bad() {
  failed=$((failed + 1))
  echo "FAIL - $1"
  for f in "$tmp/out" "$tmp/err"; do
    [ -s "$f" ] && sed -n '1,15s/^/#   /p' "$f"
  done
  return 0
}

# run CMD...: stdout -> $tmp/out, stderr -> $tmp/err, exit status -> $rc.
run() {
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

# check DESC CMD...: the command succeeds.
check() {
  desc=$1
  shift
  run "$@"
  if [ "$rc" -eq 0 ]; then ok "$desc"; else bad "$desc (exit $rc)"; fi
}

# check_fail DESC CODE CMD...: exits with CODE (or any non-zero code for
# CODE = nz), prints an "smr" message on stderr and nothing on stdout.
check_fail() {
  desc=$1
  want=$2
  shift 2
  run "$@"
  if [ "$rc" -eq 0 ]; then
    bad "$desc (exit 0, expected failure)"
  elif [ "$want" != nz ] && [ "$rc" -ne "$want" ]; then
    bad "$desc (exit $rc, expected $want)"
  elif ! grep -q '^smr' "$tmp/err"; then
    bad "$desc (no 'smr' message on stderr)"
  elif [ -s "$tmp/out" ]; then
    bad "$desc (output on stdout)"
  else
    ok "$desc"
  fi
}

# expect DESC [AWK-OPTIONS] AWK-PROGRAM: the program exits 0 on the last
# command's stdout.
expect() {
  desc=$1
  shift
  if awk "$@" "$tmp/out"; then ok "$desc"; else bad "$desc"; fi
}

