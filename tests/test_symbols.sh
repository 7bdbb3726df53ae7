#!/bin/sh
# test_symbols.sh - the shared library exports only the public API.
# usage: sh tests/test_symbols.sh PATH/TO/libsmr.so
# Fails when `nm -D --defined-only` lists a global function or data symbol
# whose name does not start with smr_, or when smr_softmax_f32 is missing.
# NM: the nm to use (tests/meson.build passes the cross file's in a cross build).
set -u
nm=${NM:-nm}

if [ $# -ne 1 ]; then
  echo "usage: $0 LIBSMR.so" >&2
  exit 2
fi
lib=$1
if [ ! -f "$lib" ]; then
  echo "FAIL - $lib: no such file"
  exit 1
fi
if ! command -v "$nm" >/dev/null 2>&1; then
  echo "FAIL - $nm (binutils) not found"
  exit 1
fi
syms=$("$nm" -D --defined-only "$lib") || {
  echo "FAIL - $nm -D failed on $lib"
  exit 1
}

# Lines are "VALUE TYPE NAME[@VERSION]". Global definitions have an upper
# case type (T text, D/G data, B/S bss, R read-only, V/W weak, C common),
# plus i (GNU indirect function) and u (GNU unique). A (absolute) entries
# are version nodes, not code or data. The linker's own markers are allowed.
foreign=$(printf '%s\n' "$syms" | awk '
  NF >= 3 && $2 ~ /^[BCDGRSTVWiu]$/ {
    name = $3
    sub(/@.*/, "", name)
    if (name ~ /^smr_/) next
    if (name ~ /^(_init|_fini|__bss_start|_edata|_end|__end__|_etext)$/) next
    print "  " $2 " " name
  }')
count=$(printf '%s\n' "$syms" | awk 'NF >= 3 && $2 ~ /^[BCDGRSTVWiu]$/ && $3 ~ /^smr_/ { n++ } END { print n + 0 }')

failed=0
if [ -n "$foreign" ]; then
  echo "FAIL - exported symbols outside the smr_ namespace:"
  printf '%s\n' "$foreign"
  failed=1
else
  echo "ok - every exported symbol starts with smr_ ($count symbols)"
fi
if printf '%s\n' "$syms" | awk '$2 == "T" { sub(/@.*/, "", $3); if ($3 == "smr_softmax_f32") f = 1 } END { exit !f }'; then
  echo "ok - smr_softmax_f32 is exported"
else
  echo "FAIL - smr_softmax_f32 is not exported"
  failed=1
fi
if [ "$failed" -eq 0 ]; then echo "2 passed, 0 failed"; else echo "$((2 - failed)) passed, $failed failed"; fi
exit "$failed"
