#!/bin/sh
# Builds CKernels and scripts/neon/neon_check.c for aarch64 and runs them under qemu: the NEON
# kernels against their scalar twins, and dequantization against Tests/Fixtures/quants.
# Needs (Debian): qemu-user-static libc6-dev-arm64-cross libgcc-12-dev-arm64-cross.
set -eu
cd "$(dirname "$0")/.."
CC=${CC:-clang}
OUT=${TMPDIR:-/tmp}/featherweight-neon-check
$CC --target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -isystem /usr/aarch64-linux-gnu/include \
    -B/usr/lib/gcc-cross/aarch64-linux-gnu/12 -L/usr/lib/gcc-cross/aarch64-linux-gnu/12 -fuse-ld=lld -static \
    -O2 -Wall -ISources/CKernels/include -ISources/CKernels \
    Sources/CKernels/*.c scripts/neon/neon_check.c -lm -o "$OUT"
qemu-aarch64-static "$OUT" Tests/Fixtures/quants
