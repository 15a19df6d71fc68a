#!/usr/bin/env bash
# Builds the package and its tests natively (x86-64, no emulation) with the same compiler as the
# arm64 builds, Debian trixie's Swift 6.0.3, reading Package@swift-6.0.swift: what Swift 6.0
# refuses (newer language features or stdlib API, expressions its type checker gives up on, a
# manifest out of step) shows up here in minutes instead of after half an hour under qemu.
# Debug build, tests included (a release build with -enable-testing when given `release`).
#
# Usage (as root):
#   RILL_ROOT_ARCH=amd64 RILL_ARM64_ROOT=/var/cache/rill-amd64-swift60-root Tools/aarch64/make_root.sh   (once)
#   Tools/aarch64/swift60_check.sh [debug|release] [extra swift build arguments...]
# Environment: RILL_AMD64_ROOT (default /var/cache/rill-amd64-swift60-root).
export RILL_ARM64_ROOT="${RILL_AMD64_ROOT:-/var/cache/rill-amd64-swift60-root}"
source "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
config=${1:-debug}; [ $# -gt 0 ] && shift
require_root
"$AARCH64_DIR/check_manifest.sh"
exec 9>"$ROOT/.rill-lock"; flock 9
trap umount_root EXIT
mount_root
timed "sync working tree into the amd64 Swift 6.0 root" sync_tree
testing=(); [ "$config" = release ] && testing=(-Xswiftc -enable-testing)
EXTRA_ENV=(RILL_TARGET_CPU=x86-64-v2)
timed "swift build -c $config --build-tests (Swift 6.0.3, x86-64)" \
    in_root "cd $SRC_IN_ROOT && swift build -c $config --build-tests ${testing[*]} -j $JOBS --scratch-path .build-swift60-$config $*"
