#!/bin/sh
# install-deps.sh - installs, only when missing, the Debian packages needed to
# build and test smr. Uses sudo when not run as root.
set -eu

pkgs="meson ninja-build pkg-config gcc libc6-dev check zlib1g-dev libsleef-dev"

missing=""
for p in $pkgs; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case $status in
    *" ok installed") ;;
    *) missing="$missing $p" ;;
  esac
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

# shellcheck disable=SC2086 # $as_root may be empty; $missing is a word list
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update
# shellcheck disable=SC2086
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
