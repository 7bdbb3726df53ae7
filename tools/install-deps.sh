#!/bin/sh
# install-deps.sh - installs, only when missing, the Debian packages needed to
# build and test smr. Uses sudo when not run as root.
#
# On an x86-64 (amd64) machine it also installs what tools/test.sh needs to
# test the ISAs this CPU may not have: the aarch64 cross compiler, user-mode
# QEMU (qemu-aarch64 for the cross build, qemu-x86_64 for emulated x86 CPUs)
# and the arm64 builds of SLEEF, Check, zlib and OpenBLAS. Those come from
# the arm64 architecture, which it adds to dpkg when it is missing.
set -eu

pkgs="meson ninja-build pkg-config gcc libc6-dev check zlib1g-dev libsleef-dev libopenblas-dev g++ libbenchmark-dev"
# clang and its sanitizer/libFuzzer runtimes: the fuzz targets (tests/fuzz)
pkgs="$pkgs clang libclang-rt-14-dev"

native=$(dpkg --print-architecture)
foreign=""
if [ "$native" = amd64 ]; then
  pkgs="$pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
  foreign="libsleef-dev:arm64 check:arm64 zlib1g-dev:arm64 libopenblas-dev:arm64"
fi

# "name:arch" of every installed package. A package asked for without an
# architecture must be installed for the native one or for all: a plain
# `dpkg-query -W check` would also accept check:arm64 alone.
installed=$(dpkg-query -W -f='${Package}:${Architecture} ${Status}\n' 2>/dev/null |
  awk '$NF == "installed" && $(NF - 1) == "ok" { print $1 }')
is_installed() {
  case $1 in
    *:*) printf '%s\n' "$installed" | grep -qxF "$1" ;;
    *) printf '%s\n' "$installed" | grep -qxF -e "$1:$native" -e "$1:all" ;;
  esac
}

missing=""
for p in $pkgs $foreign; do
  is_installed "$p" || missing="$missing $p"
done

if [ -z "$missing" ]; then
  echo "install-deps: all build dependencies are installed"
  exit 0
fi
echo "install-deps: installing:$missing"

if [ "$(id -u)" -eq 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  echo "install-deps: need root (or sudo) to install:$missing" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: apt-get not found; install these packages by hand:$missing" >&2
  exit 1
fi

# The arm64 packages need the arm64 architecture (apt-get update below then
# fetches its package lists).
if [ -n "$foreign" ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "install-deps: adding the arm64 architecture to dpkg"
  $as_root dpkg --add-architecture arm64
fi

# shellcheck disable=SC2086 # $as_root may be empty; $missing is a word list
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
