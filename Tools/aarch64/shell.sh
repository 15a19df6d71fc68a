#!/usr/bin/env bash
# Runs a command (default: an interactive shell) inside the arm64 root of make_root.sh, with its
# mounts made for the duration (proc, dev, the package mirrors), at low priority, in the copy
# of the working tree (/build/rill; not synced: build.sh and test.sh sync it).
#
# Usage (as root):
#   Tools/aarch64/shell.sh                              an arm64 bash under qemu
#   Tools/aarch64/shell.sh 'swift --version'            one command
# RILL_TARGET_CPU is passed on when set.
source "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
require_root
exec 9>"$ROOT/.rill-lock"; flock 9
trap umount_root EXIT
mount_root
[ -n "${RILL_TARGET_CPU:-}" ] && EXTRA_ENV=(RILL_TARGET_CPU="$RILL_TARGET_CPU")
mkdir -p "$ROOT$SRC_IN_ROOT"
if [ $# -eq 0 ]; then
    in_root "cd $SRC_IN_ROOT && exec bash -i"
else
    in_root "cd $SRC_IN_ROOT && $*"
fi
