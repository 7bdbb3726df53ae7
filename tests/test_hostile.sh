#!/bin/sh
# test_hostile.sh - the smr command against hostile and surprising input:
# each case with its expected exit code and message, memory bounded where
# the input would take more than the machine has, and nothing killed by a
# signal (an exit status above 128 fails every check below).
# usage: sh tests/test_hostile.sh PATH/TO/smr DATA_DIR
# Same output and emulator conventions as tests/test_cli.sh (cli_lib.sh).
# The findings of issue 14 are marked (F2, F3, ...).
# shellcheck disable=SC2016 # awk programs and sh -c scripts are single-quoted on purpose
set -u

DIGITS=${2:-.}/digits.csv
# shellcheck source=tests/cli_lib.sh
. "$(dirname "$0")/cli_lib.sh"

# check_msg DESC CODE PATTERN CMD...: exits with CODE and stderr matches the
# extended regular expression PATTERN.
check_msg() {
  desc=$1
  want=$2
  pat=$3
  shift 3
  run "$@"
  if [ "$rc" -ne "$want" ]; then
    bad "$desc (exit $rc, expected $want)"
  elif ! grep -Eq "$pat" "$tmp/err"; then
    bad "$desc (stderr lacks /$pat/)"
  else
    ok "$desc"
  fi
}

# lines_are DESC N: the last command printed N lines.
lines_are() {
  got=$(wc -l <"$tmp/out")
  if [ "$got" -eq "$2" ]; then ok "$1"; else bad "$1 ($got lines, expected $2)"; fi
}

# Peak memory is measured natively only: under an emulator or a sanitizer
# (ASAN_OPTIONS, set by tools/test.sh) it is that tool's, not smr's.
measure=1
if [ ! -x /usr/bin/time ] || [ -n "${SMR_TEST_EMULATOR:-}" ] || [ -n "${ASAN_OPTIONS:-}" ]; then
  measure=0
fi
# The cases that parse tens of MiB or a million columns are left out under
# SMR_TEST_QUICK=1 (the emulated runs): they test the same code natively.
heavy=1
[ "${SMR_TEST_QUICK:-}" = 1 ] && heavy=0

# rss_below DESC KB CMD...: runs CMD under /usr/bin/time; its peak resident
# size must stay below KB (and CMD must not be killed by a signal).
rss_below() {
  desc=$1
  limit=$2
  shift 2
  if [ "$measure" -eq 0 ]; then
    run "$@"
    if [ "$rc" -le 128 ]; then ok "$desc (memory not measured here)"; else bad "$desc (exit $rc)"; fi
    return
  fi
  /usr/bin/time -f '%M' -o "$tmp/rss" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  kb=$(tail -1 "$tmp/rss" | tr -cd 0-9)
  if [ "$rc" -gt 128 ] || [ -z "$kb" ]; then
    bad "$desc (exit $rc)"
  elif [ "$kb" -ge "$limit" ]; then
    bad "$desc (peak $kb KB, limit $limit KB)"
  else
    ok "$desc (peak $kb KB)"
  fi
}

M=$tmp/iris.smr
check "train iris" "$SMR" train "$IRIS" --standardize -o "$M"

# --------------------------------------------------------------------------
# F2: a file without a header must not lose its first row

tail -n +2 "$DIGITS" >"$tmp/digits-nohdr.csv"
rows=$(wc -l <"$tmp/digits-nohdr.csv")
check_msg "F2: a first line of numbers is refused by default" 1 'only numbers.*--no-header' \
  "$SMR" train "$tmp/digits-nohdr.csv" -o "$tmp/d.smr"
check "F2: --no-header trains" "$SMR" train "$tmp/digits-nohdr.csv" --no-header -o "$tmp/d.smr"
expect "F2: --no-header trains on every row" -v n="$rows" '$0 ~ " on " n " rows" { f = 1 } END { exit !f }'
check "F2: predict --no-header" "$SMR" predict "$tmp/d.smr" "$tmp/digits-nohdr.csv" --no-header
lines_are "F2: predict --no-header prints a line per row" "$rows"
check_msg "F2: predict refuses a header-less file by default" 1 'only numbers' \
  "$SMR" predict "$tmp/d.smr" "$tmp/digits-nohdr.csv"
printf '1,2,3\n4,5,0\n6,7,1\n' >"$tmp/numhdr.csv"
check "F2: --header takes a numeric first line as names" "$SMR" train "$tmp/numhdr.csv" --header -o "$tmp/n.smr"
expect "F2: --header: two rows" '/ on 2 rows / { f = 1 } END { exit !f }'

# --------------------------------------------------------------------------
# F3: labels are classes by sorted distinct value, never sized by value

printf 'a,b,label\n1,2,1\n2,3,2\n3,1,3\n4,4,1\n' >"$tmp/l13.csv"
check "F3: labels 1..3 train" "$SMR" train "$tmp/l13.csv" -o "$tmp/l13.smr"
expect "F3: labels 1..3 are 3 classes" '/ 3 classes/ { f = 1 } END { exit !f }'
check "F3: predict prints the labels themselves" "$SMR" predict "$tmp/l13.smr" "$tmp/l13.csv"
expect "F3: predictions are among 1, 2, 3" '!/^[123]$/ { bad = 1 } END { exit bad }'
check "F3: eval with the original labels" "$SMR" eval "$tmp/l13.smr" "$tmp/l13.csv"
expect "F3: the confusion matrix is labelled 1 2 3" '/^true\\pred +1 +2 +3$/ { f = 1 } END { exit !f }'
printf 'a,label\n1,0\n2,1000\n3,2000\n4,0\n' >"$tmp/l1000.csv"
check "F3: labels 0/1000/2000 train" "$SMR" train "$tmp/l1000.csv" -o "$tmp/l1000.smr"
expect "F3: 0/1000/2000 are 3 classes" '/ 3 classes/ { f = 1 } END { exit !f }'
size=$(wc -c <"$tmp/l1000.smr")
if [ "$size" -lt 1000 ]; then ok "F3: the 0/1000/2000 model is small ($size bytes)"; else bad "F3: the 0/1000/2000 model is $size bytes"; fi
printf 'a,label\n1,-1\n2,1\n3,-1\n5,1\n' >"$tmp/pm.csv"
check "F3: labels -1/1 train" "$SMR" train "$tmp/pm.csv" -o "$tmp/pm.smr"
expect "F3: -1/1 are 2 classes" '/ 2 classes/ { f = 1 } END { exit !f }'
printf 'a,label\n1,-1\n2,+1\n3,-1\n5,01\n' >"$tmp/pm2.csv"
check "F3: eval maps +1 and 01 to the class 1" "$SMR" eval "$tmp/pm.smr" "$tmp/pm2.csv"
printf 'a,label\n1,2000000000\n2,0\n' >"$tmp/huge.csv"
rss_below "F3: the label 2000000000 does not size the model" 100000 \
  "$SMR" train "$tmp/huge.csv" -o "$tmp/huge.smr"
if grep -q ' 2 classes' "$tmp/out"; then ok "F3: 2000000000/0 are 2 classes"; else bad "F3: 2000000000/0 are 2 classes"; fi

# --------------------------------------------------------------------------
# F4: what -o may replace, and permission bits

# A device like /dev/full of our own where we may make one (root), so that
# a binary with the bug replaces only a node in $tmp, never /dev/full.
full=/dev/full
if [ "$(id -u)" -eq 0 ] && mknod "$tmp/full" c 1 7 2>/dev/null &&
  dd if=/dev/zero of="$tmp/full" bs=1 count=1 2>&1 | grep -q 'No space'; then
  full=$tmp/full # (not on a nodev file system)
fi
if [ -c "$full" ] && [ -w "$full" ]; then
  check_msg "F4: -o $full reports the full device" 1 'No space left' \
    "$SMR" train "$IRIS" -o "$full"
  if [ -c "$full" ]; then ok "F4: $full is still a device"; else bad "F4: $full was replaced"; fi
fi
mkdir "$tmp/dir.smr"
check_msg "F4: -o a directory is refused" 1 'directory' "$SMR" train "$IRIS" -o "$tmp/dir.smr"
cp "$M" "$tmp/private.smr"
chmod 600 "$tmp/private.smr"
check "F4: retrain over a 0600 model" "$SMR" train "$IRIS" -o "$tmp/private.smr"
mode=$(stat -c %a "$tmp/private.smr" 2>/dev/null || echo unknown)
if [ "$mode" = 600 ] || [ "$mode" = unknown ]; then ok "F4: the model keeps mode 600 ($mode)"; else bad "F4: the model became $mode"; fi

# --------------------------------------------------------------------------
# F5: predict reads its input once (FIFOs, process substitution)

rows=$(($(wc -l <"$IRIS") - 1))
run sh -c 'cat "$2" | "$1" predict "$3" /dev/stdin' sh "$SMR" "$IRIS" "$M"
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq "$rows" ]; then ok "F5: predict from a pipe path"; else bad "F5: predict from a pipe path (exit $rc)"; fi
if command -v mkfifo >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then
  mkfifo "$tmp/fifo"
  (cat "$IRIS" >"$tmp/fifo" &)
  run timeout 60 "$SMR" predict "$M" "$tmp/fifo"
  if [ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq "$rows" ]; then ok "F5: predict from a named FIFO"; else bad "F5: predict from a named FIFO (exit $rc)"; fi
  cut -d, -f1-4 "$IRIS" >"$tmp/features.csv"
  (cat "$tmp/features.csv" >"$tmp/fifo" &)
  run timeout 60 "$SMR" predict "$M" "$tmp/fifo"
  if [ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq "$rows" ]; then ok "F5: features only, from a FIFO"; else bad "F5: features only, from a FIFO (exit $rc)"; fi
  cp "$tmp/out" "$tmp/fifo.out"
  run "$SMR" predict "$M" "$IRIS"
  if cmp -s "$tmp/out" "$tmp/fifo.out"; then ok "F5: the same predictions as from the file"; else bad "F5: the same predictions as from the file"; fi
fi

# --------------------------------------------------------------------------
# F6 and F8: gzip members, trailing bytes, a gzip bomb

if "$SMR" info | grep -q '^zlib: yes'; then
  head -76 "$IRIS" | gzip -c >"$tmp/two.csv.gz"
  tail -n +77 "$IRIS" | gzip -c >>"$tmp/two.csv.gz"
  check "F6: two gzip members" "$SMR" train "$tmp/two.csv.gz" -o "$tmp/g.smr"
  expect "F6: every member's rows are read" -v n="$rows" '$0 ~ " on " n " rows" { f = 1 } END { exit !f }'
  head -76 "$IRIS" | gzip -c >"$tmp/tail.csv.gz"
  tail -n +77 "$IRIS" >>"$tmp/tail.csv.gz"
  check_msg "F6: plain rows after a gzip member are an error" 1 'after the end of the gzip stream' \
    "$SMR" train "$tmp/tail.csv.gz" -o "$tmp/g.smr"
fi
if [ "$heavy" -eq 1 ] && "$SMR" info | grep -q '^zlib: yes'; then
  # a bomb: a header member, then one 16 MiB member of "0,0" rows 70
  # times: 1.1 GiB of text in about 1 MB
  echo "a,label" | gzip -c >"$tmp/bomb.csv.gz"
  awk 'BEGIN { for (i = 0; i < 4194304; i++) print "0,0" }' | gzip -9 -c >"$tmp/m.gz"
  for i in 1 2 3 4 5 6 7; do cat "$tmp/m.gz" "$tmp/m.gz" "$tmp/m.gz" "$tmp/m.gz" "$tmp/m.gz" \
    "$tmp/m.gz" "$tmp/m.gz" "$tmp/m.gz" "$tmp/m.gz" "$tmp/m.gz"; done >>"$tmp/bomb.csv.gz"
  rm -f "$tmp/m.gz"
  rss_below "F8: a gzip bomb stops at --max-input-mb 64 with bounded memory" 700000 \
    "$SMR" train "$tmp/bomb.csv.gz" --max-input-mb 64 -o "$tmp/b.smr"
  if [ "$rc" -eq 1 ] && grep -q 'larger than the limit of 67108864 bytes' "$tmp/err"; then
    ok "F8: the bomb's error names the limit"
  else
    bad "F8: the bomb's error names the limit (exit $rc)"
  fi
  rm -f "$tmp/bomb.csv.gz"
fi
rss_below "F8: /dev/zero as data fails at once" 100000 "$SMR" train /dev/zero -o "$tmp/z.smr"
if [ "$rc" -eq 1 ] && grep -q 'NUL byte' "$tmp/err"; then ok "F8: /dev/zero: NUL byte"; else bad "F8: /dev/zero: NUL byte (exit $rc)"; fi
rss_below "F8: /dev/urandom as data fails at once" 100000 "$SMR" train /dev/urandom -o "$tmp/z.smr"
if [ "$rc" -eq 1 ]; then ok "F8: /dev/urandom: exit 1"; else bad "F8: /dev/urandom (exit $rc)"; fi
for dev in /dev/zero /dev/urandom; do
  rss_below "F8: $dev as a model fails at once" 100000 "$SMR" predict "$dev" "$IRIS"
  if [ "$rc" -eq 1 ] && grep -q 'bad magic' "$tmp/err"; then ok "F8: $dev: bad magic"; else bad "F8: $dev: bad magic (exit $rc)"; fi
done
if command -v truncate >/dev/null 2>&1; then
  truncate -s 6G "$tmp/sparse.smr"
  rss_below "F8: a 6 GiB sparse file as a model fails at once" 100000 "$SMR" predict "$tmp/sparse.smr" "$IRIS"
  if [ "$rc" -eq 1 ] && grep -q 'bad magic' "$tmp/err"; then ok "F8: sparse file: bad magic"; else bad "F8: sparse file: bad magic (exit $rc)"; fi
  cp "$M" "$tmp/grown.smr"
  truncate -s 6G "$tmp/grown.smr"
  check_msg "F8: a valid header on 6 GiB: more than it allows" 1 'more than the [0-9]+ its header allows' \
    "$SMR" predict "$tmp/grown.smr" "$IRIS"
  rm -f "$tmp/sparse.smr" "$tmp/grown.smr"
fi

# --------------------------------------------------------------------------
# F9: eval is linear in the confusion matrix (k = 2000 took about 12 min)

awk 'BEGIN { srand(7); print "a,b,label"; for (i = 0; i < 4000; i++) printf "%.4f,%.4f,%d\n", rand(), rand(), i % 2000 }' >"$tmp/k2000.csv"
check "F9: train 2000 classes" "$SMR" train "$tmp/k2000.csv" --solver gd --epochs 2 -o "$tmp/k.smr"
if command -v timeout >/dev/null 2>&1; then
  run timeout 120 "$SMR" eval "$tmp/k.smr" "$tmp/k2000.csv"
else
  run "$SMR" eval "$tmp/k.smr" "$tmp/k2000.csv"
fi
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 2005 ]; then ok "F9: eval prints the 2000 x 2000 matrix"; else bad "F9: eval prints the 2000 x 2000 matrix (exit $rc)"; fi
check "F9: eval --confusion top" "$SMR" eval "$tmp/k.smr" "$tmp/k2000.csv" --confusion top
expect "F9: top confusions, at most 20" '/^  [0-9]+  true / { n++ } END { exit !(n > 0 && n <= 20) }'
check_fail "F9: --confusion takes full, top or auto" 2 "$SMR" eval "$tmp/k.smr" "$tmp/k2000.csv" --confusion all

# --------------------------------------------------------------------------
# Shapes and bytes

if [ "$heavy" -eq 1 ]; then
  awk 'BEGIN { for (j = 1; j <= 1000000; j++) printf "c%d,", j; print "label"; for (j = 1; j <= 1000000; j++) printf "0,"; print "a"; for (j = 1; j <= 1000000; j++) printf "1,"; print "b" }' >"$tmp/wide.csv"
  rss_below "a 1,000,000-column header trains" 1500000 "$SMR" train "$tmp/wide.csv" --epochs 3 --solver gd -o "$tmp/wide.smr"
  if [ "$rc" -eq 0 ] && grep -q '1000000 features, 2 classes' "$tmp/out"; then ok "1,000,000 columns: 1000000 features"; else bad "1,000,000 columns (exit $rc)"; fi
  rm -f "$tmp/wide.csv" "$tmp/wide.smr"
  awk 'BEGIN { print "a,label"; s = "1"; for (i = 0; i < 26; i++) s = s s; print s ",0"; print "2,1" }' >"$tmp/long.csv"
  check_msg "a 64 MiB line: one field too large for a double" 1 'long.csv:2:1: non-finite value' \
    "$SMR" train "$tmp/long.csv" -o "$tmp/l.smr"
  rm -f "$tmp/long.csv"
fi
printf 'a,label\n1,0\n2\0,1\n' >"$tmp/nul.csv"
check_msg "a NUL byte" 1 'nul.csv:3:1: NUL byte' "$SMR" train "$tmp/nul.csv" -o "$tmp/x.smr"
printf 'a,\377\376label\n1,\377x\n2,\303\251t\303\251\n3,\377x\n' >"$tmp/utf8.csv"
check "invalid UTF-8 in names and labels trains" "$SMR" train "$tmp/utf8.csv" -o "$tmp/u.smr"
check "and predicts its labels back, byte for byte" "$SMR" predict "$tmp/u.smr" "$tmp/utf8.csv"
if grep -q "$(printf '\377x')" "$tmp/out"; then ok "the invalid UTF-8 label comes back"; else bad "the invalid UTF-8 label comes back"; fi
printf 'a,b,label\n' >"$tmp/hdr.csv"
check_msg "a header only" 1 'no data rows' "$SMR" train "$tmp/hdr.csv" -o "$tmp/x.smr"
printf 'a,b,label\n1,2,0\n3,1\n' >"$tmp/ragged.csv"
check_msg "a ragged row" 1 'ragged.csv:3:3: expected 3 fields, got 2' "$SMR" train "$tmp/ragged.csv" -o "$tmp/x.smr"
printf 'a,b,label\n1,2,"two\nlines"\n3,1,"one"\n4,4,"two\nlines"\n' >"$tmp/qnl.csv"
check "quoted newlines in labels" "$SMR" train "$tmp/qnl.csv" -o "$tmp/q.smr"
expect "quoted newlines: 3 rows, 2 classes" '/2 classes\) on 3 rows/ { f = 1 } END { exit !f }'
check_msg "--max-input-mb 0 is a usage error" 2 'max-input-mb' "$SMR" train "$IRIS" --max-input-mb 0 -o "$tmp/x.smr"
check_msg "a label column that --no-header cannot name" 1 'no such column number' \
  "$SMR" train "$tmp/digits-nohdr.csv" --no-header --label-column x -o "$tmp/x.smr"

# --------------------------------------------------------------------------
# Model files truncated at every offset and with every byte flipped: exit 1
# with "not a valid smr model", never 0, never a signal

# refused FILE WHAT: smr predict refuses FILE as a model; else prints why.
refused() {
  "$SMR" predict "$1" "$IRIS" >/dev/null 2>"$tmp/err"
  r=$?
  [ "$r" -eq 1 ] && grep -q 'not a valid smr model' "$tmp/err" && return 0
  echo "# $2: exit $r: $(head -1 "$tmp/err")"
  return 1
}
size=$(wc -c <"$M")
trunc_bad=0
flip_bad=0
i=0
while [ "$i" -lt "$size" ]; do
  head -c "$i" "$M" >"$tmp/t.smr"
  refused "$tmp/t.smr" "truncated at $i" || trunc_bad=$((trunc_bad + 1))
  cp "$M" "$tmp/f.smr"
  byte=$(od -An -tu1 -j "$i" -N1 "$M" | tr -d ' ')
  printf "$(printf '\\%03o' $(((byte + 1) % 256)))" | dd of="$tmp/f.smr" bs=1 seek="$i" conv=notrunc 2>/dev/null
  refused "$tmp/f.smr" "byte $i changed" || flip_bad=$((flip_bad + 1))
  i=$((i + 1))
done
if [ "$trunc_bad" -eq 0 ]; then ok "a model truncated at each of $size offsets is refused"; else bad "$trunc_bad truncations not refused"; fi
if [ "$flip_bad" -eq 0 ]; then ok "a model with any one of its $size bytes changed is refused"; else bad "$flip_bad changed bytes not refused"; fi

echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
