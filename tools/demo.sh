#!/bin/sh
# demo.sh - from a fresh Debian 12 machine to `smr demo`: installs what is
# missing, configures (or reuses) the build directory `build`, compiles, and
# trains and evaluates on the Iris data embedded in the binary.
set -eu
cd "$(dirname "$0")/.."

sh tools/install-deps.sh

if [ -f build/meson-private/coredata.dat ]; then
  meson setup --reconfigure build >/dev/null || meson setup --wipe build
else
  meson setup build
fi
meson compile -C build tools/smr
echo
build/tools/smr demo
