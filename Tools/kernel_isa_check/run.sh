#!/usr/bin/env bash
# Builds the C kernels (Sources/CRillKernels) for every instruction-set path they have
# and checks each against a plain double-precision reference on odd shapes:
#   x86-64 scalar (no AVX2), AVX2, the host's (-march=native: AVX-512 VNNI on an Intel SPR guest,
#   AVX2 on an AMD Zen 3 one), and, when a cross compiler
#   and qemu are installed (apt-get install gcc-aarch64-linux-gnu qemu-user), arm64 NEON with
#   and without the dot-product extension — the paths our boards run.
# The Swift test suite only exercises the host's path; this covers the others.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../../Sources/CRillKernels"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
check() {  # name compiler flags... -- runner...
    local name=$1; shift
    local cc=$1; shift
    local flags=()
    while [ "$1" != "--" ]; do flags+=("$1"); shift; done
    shift
    "$cc" -O2 -Wno-psabi "${flags[@]}" -I"$src/include" "$here/harness.c" "$src"/*.c -lm -o "$out/$name"
    if "$@" "$out/$name"; then :; else echo "FAIL: $name"; status=1; fi
}
check x86-64-scalar gcc -march=x86-64 --
check x86-64-avx2 gcc -march=haswell --
check host gcc -march=native --
if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
    check arm64-neon aarch64-linux-gnu-gcc -march=armv8-a -static -- qemu-aarch64
    check arm64-dotprod aarch64-linux-gnu-gcc -march=armv8.2-a+dotprod -static -- qemu-aarch64
elif root="${RILL_ARM64_ROOT:-/var/cache/rill-arm64-root}"; command -v clang >/dev/null && [ -f "$root/usr/lib/aarch64-linux-gnu/libc.a" ]; then
    # clang (any build targets aarch64) against the arm64 root of Tools/aarch64/make_root.sh,
    # run by binfmt's qemu-aarch64.
    check arm64-neon clang --target=aarch64-linux-gnu --sysroot="$root" -fuse-ld=lld -static -march=armv8-a --
    check arm64-dotprod clang --target=aarch64-linux-gnu --sysroot="$root" -fuse-ld=lld -static -mcpu=cortex-a76 --
else
    echo "skipped arm64: install gcc-aarch64-linux-gnu and qemu-user, or make the arm64 root (Tools/aarch64/make_root.sh)"
fi
exit $status
