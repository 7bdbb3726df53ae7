#!/bin/sh
# test_install.sh BUILD_DIR SOURCE_DIR: installs smr into a scratch DESTDIR,
# then compiles tests/example_readme.c with `cc $(pkg-config --cflags --libs
# smr)` against the installed header, smr.pc and libsmr.so only, and runs
# it on data/iris.csv. Proves the install layout and the pkg-config file.
# Skipped (exit 77) in a cross build (SMR_TEST_CROSS=1, tests/meson.build):
# the example would need the cross compiler, pkg-config for the host and an
# emulator; the same install rules are tested by the native build.
set -eu
build=$1
src=$2
if [ "${SMR_TEST_CROSS:-}" = 1 ]; then
  echo "SKIP: cross build (the installed library is tested by a native build)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; echo "FAIL: meson install"; exit 1; }
pc=$(find "$tmp/root" -name smr.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: no smr.pc installed"; exit 1; }
hdr=$(find "$tmp/root" -name smr.h | head -n 1)
[ -n "$hdr" ] || { echo "FAIL: no smr.h installed"; exit 1; }
echo "ok: installed $(echo "$pc" | sed "s|$tmp/root||") and $(echo "$hdr" | sed "s|$tmp/root||")"

PKG_CONFIG_PATH=$(dirname "$pc")
PKG_CONFIG_SYSROOT_DIR=$tmp/root
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
cflags=$(pkg-config --cflags smr)
libs=$(pkg-config --libs smr)
# pkgconf prefixes --variable output with the sysroot already
libdir=$(pkg-config --variable=libdir smr)
echo "ok: pkg-config --cflags --libs smr: $cflags $libs"
# shellcheck disable=SC2086 # word splitting of the flags is intended
${CC:-cc} -std=c11 -Wall -Wextra -Werror -o "$tmp/example" "$src/tests/example_readme.c" \
  $cflags $libs -Wl,-rpath,"$libdir" ||
  { echo "FAIL: the README example does not build against the installed smr"; exit 1; }
# meson test points LD_LIBRARY_PATH at the build tree: clear it so the
# example finds the installed library through its RUNPATH.
unset LD_LIBRARY_PATH
"$tmp/example" "$src/data/iris.csv" "$tmp/iris.smr" ||
  { echo "FAIL: the README example failed"; exit 1; }
# The example must have used the installed shared library, not a build one.
ldd "$tmp/example" | grep -q "$tmp/root" ||
  { echo "FAIL: example not linked to the installed libsmr.so"; exit 1; }
echo "ok: README example built and ran against the installed library"
