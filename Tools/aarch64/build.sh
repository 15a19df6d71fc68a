#!/usr/bin/env bash
# Builds Rill for arm64 with Debian's arm64 Swift toolchain (Swift 6.0.3, which reads
# Package@swift-6.0.swift), inside the root made by make_root.sh, under qemu: release mode,
# kernels compiled for one CPU through RILL_TARGET_CPU (Package.swift):
#   cortex-a76  Raspberry Pi 5, RK3588's big cores (armv8.2-a + dot products: the NEON sdot path)
#   armv8-a     any arm64 board (Pi 3/4, Cortex-A53/A55/A72): plain NEON, no dot products
#               (LLVM's processor "generic")
#
# Usage (as root):
#   Tools/aarch64/build.sh [cortex-a76|armv8-a] [extra swift build arguments...]   (default cortex-a76)
# Output: $RILL_ARM64_ROOT/build/rill/.build-arm64-CPU/release/rill (inside the root), and
# .build-arm64-CPU/release/rill.isa: the kernel path the binary reports at run time.
# Packages resolve to this machine's mirrors under /opt/swift-packages (the root's git maps
# github.com onto them); nothing is fetched from elsewhere. Before building, the working tree is
# copied into the root (common.sh: sync_tree) and check_manifest.sh checks that
# Package@swift-6.0.swift is in step with Package.swift. Idempotent and incremental: a second
# run rebuilds only what changed. Each step's time goes to stderr (and to $TIMINGS, if set).
#
# A full build under qemu on 2 cores takes tens of minutes: see the timings in the README.
source "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
cpu_name=${1:-cortex-a76}; [ $# -gt 0 ] && shift
cpu=$(target_cpu_for "$cpu_name")
require_root
"$AARCH64_DIR/check_manifest.sh"
exec 9>"$ROOT/.rill-lock"; flock 9   # one script at a time uses the root's mounts
trap umount_root EXIT
mount_root
timed "sync working tree into the root" sync_tree

scratch=".build-arm64-$cpu_name"
EXTRA_ENV=(RILL_TARGET_CPU="$cpu")
timed "swift build -c release ($cpu_name)" in_root "cd $SRC_IN_ROOT && swift build -c release -j $JOBS --scratch-path $scratch --product rill $*"
bin="$SRC_IN_ROOT/$scratch/release/rill"
in_root "file -L $bin | sed 's|^.*: ||'" >&2
# The integer kernels' instruction-set path, from the binary itself; the number of sdot
# (dot-product) instructions in it.
sdot=$(in_root "objdump -d --no-show-raw-insn $bin | grep -cw sdot || true")
log "rill ($cpu_name) sdot instructions in the binary: $sdot"
