#!/bin/sh
# emulated.sh ARGS...: runs $SMR_TEST_SELF ARGS under the emulator command
# $SMR_TEST_EMULATOR (words, e.g. "qemu-aarch64 -L /"). Under user-mode
# emulation a process that test_kernels spawns would run natively (or not
# at all), so its main() spawns this script instead (tests/meson.build).
# shellcheck disable=SC2086 # the emulator command is a word list
exec $SMR_TEST_EMULATOR "$SMR_TEST_SELF" "$@"
