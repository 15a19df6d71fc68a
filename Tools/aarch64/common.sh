# Shared by the Tools/aarch64 scripts (sourced, not run). Defines where the arm64 root lives,
# how heavy commands are run, and how the root's mounts are made and taken down.
#
# Environment:
#   RILL_ARM64_ROOT   the arm64 Debian root (default /var/cache/rill-arm64-root). Kept outside
#                     the repository: it holds about 2 GiB of Debian, Swift and build output.
#   RILL_ARM64_JOBS   parallel jobs of swift build (default 2)
#   RILL_ARM64_SOURCE, RILL_ARM64_OVERLAY   build a revision (plus some working-tree paths)
#                     instead of the working tree: see sync_tree
#
# The root sees:
#   /opt/swift-packages   this machine's package mirrors, bound read-only; the root's
#                         /etc/gitconfig maps github.com URLs onto them as the host's does
#   /build/rill           a copy of the repository's working tree (tracked files and untracked
#                         ones git does not ignore), synced by sync_tree before each build;
#                         its .build-arm64-* folders are the builds and stay between runs
set -euo pipefail

AARCH64_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$AARCH64_DIR/../.." && pwd)"
ROOT="${RILL_ARM64_ROOT:-/var/cache/rill-arm64-root}"
JOBS="${RILL_ARM64_JOBS:-2}"
# Everything heavy (debootstrap, apt, swift under qemu) at the lowest CPU and I/O priority: the
# machine is shared with native builds.
LOW=(nice -n 19 ionice -c3)
PACKAGES_DIR=/opt/swift-packages
SRC_IN_ROOT=/build/rill

case "$ROOT/" in
    "$REPO"/*) echo "RILL_ARM64_ROOT ($ROOT) must be outside the repository" >&2; exit 2 ;;
esac

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Runs "$@" and appends "label<TAB>seconds<TAB>exit status" to $TIMINGS (when set); prints the
# time. Returns the command's status.
timed() {
    local label=$1; shift
    local t0 t1 rc=0
    t0=$(date +%s)
    "$@" || rc=$?
    t1=$(date +%s)
    log "$label: $((t1 - t0)) s (exit $rc)"
    if [ -n "${TIMINGS:-}" ]; then printf '%s\t%d\t%d\n' "$label" "$((t1 - t0))" "$rc" >>"$TIMINGS"; fi
    return $rc
}

is_mounted() { mountpoint -q "$1" 2>/dev/null; }

# Makes qemu run arm64 executables (the kernel's binfmt_misc table; qemu-user-static registers
# its interpreters with the F flag, so the root needs no copy of qemu).
enable_binfmt() {
    if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
        update-binfmts --enable qemu-aarch64
    fi
    grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 || {
        echo "binfmt_misc: qemu-aarch64 is registered but not enabled" >&2; exit 2; }
}

# Mounts what the root needs (proc, dev, the package mirrors); idempotent. umount_root undoes it.
mount_root() {
    enable_binfmt
    is_mounted "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
    is_mounted "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
    is_mounted "$ROOT/dev/pts" || mount -t devpts devpts "$ROOT/dev/pts" -o newinstance,ptmxmode=0666 2>/dev/null || true
    mkdir -p "$ROOT$PACKAGES_DIR"
    if ! is_mounted "$ROOT$PACKAGES_DIR"; then
        mount --bind "$PACKAGES_DIR" "$ROOT$PACKAGES_DIR"
        mount -o remount,bind,ro "$ROOT$PACKAGES_DIR"
    fi
}

umount_root() {
    local m
    for m in "$ROOT$PACKAGES_DIR" "$ROOT/dev/pts" "$ROOT/dev" "$ROOT/proc"; do
        if is_mounted "$m"; then umount "$m" || umount -l "$m"; fi
    done
}

# Runs a shell command inside the root as root, at low priority, with a clean environment.
in_root() {
    "${LOW[@]}" chroot "$ROOT" /usr/bin/env -i \
        HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 TERM=dumb "${EXTRA_ENV[@]}" /bin/bash -c "$1"
}
EXTRA_ENV=()

require_root() {
    [ -e "$ROOT/.rill-root-ready" ] || {
        echo "no arm64 root at $ROOT: run Tools/aarch64/make_root.sh first" >&2; exit 2; }
}

# Copies the source into the root: by default the working tree (tracked files and untracked
# files git does not ignore: what a commit of it would hold, plus new files). With
# RILL_ARM64_SOURCE=REV (e.g. HEAD), the tree of that revision instead, with the working tree's
# copies of the paths in RILL_ARM64_OVERLAY (space-separated files or folders) laid over it: a
# commit plus a patch, while others edit the working tree. Files the source no longer has are
# deleted from the copy; the copy's build folders stay. The copy's .rill-source-revision says
# what it holds.
sync_tree() {
    local dest="$ROOT$SRC_IN_ROOT" list src stage="" revision p
    mkdir -p "$dest"
    list=$(mktemp)
    if [ -n "${RILL_ARM64_SOURCE:-}" ]; then
        stage=$(mktemp -d)
        git -C "$REPO" archive --format=tar "$RILL_ARM64_SOURCE" | tar -x -C "$stage"
        for p in ${RILL_ARM64_OVERLAY:-}; do
            if [ -e "$REPO/$p" ]; then (cd "$REPO" && cp -a --parents "$p" "$stage/"); else rm -rf "${stage:?}/$p"; fi
        done
        src=$stage
        (cd "$src" && find . \( -type f -o -type l \) -printf '%P\0') >"$list"
        revision="$(git -C "$REPO" rev-parse --short "$RILL_ARM64_SOURCE")${RILL_ARM64_OVERLAY:+ + working-tree copies of: $RILL_ARM64_OVERLAY}"
    else
        src=$REPO
        git -C "$REPO" ls-files -z --cached --others --exclude-standard \
            | while IFS= read -r -d '' p; do [ -e "$REPO/$p" ] && printf '%s\0' "$p"; done >"$list"
        revision="$(git -C "$REPO" describe --always --dirty 2>/dev/null) (working tree, $(date -u +%FT%TZ))"
    fi
    # By content, and without copying times: an unchanged file keeps its time in the copy, so
    # that switching sources rebuilds only what differs.
    rsync -rlpD --checksum --from0 --files-from="$list" "$src/" "$dest/"
    # Remove what the source no longer has (outside the build folders).
    (cd "$dest" && find . -path './.build*' -prune -o \( -type f -o -type l \) -printf '%P\0') \
        | { grep -zv '^\.rill-source-revision$' || true; } | sort -z | comm -z -23 - <(sort -z "$list") \
        | (cd "$dest" && xargs -0 -r rm -f --)
    rm -f "$list"
    [ -n "$stage" ] && rm -rf "$stage"
    echo "$revision" >"$dest/.rill-source-revision"
    log "source in the root: $revision"
}

# Maps an architecture name of the scripts onto RILL_TARGET_CPU. Clang's -mcpu and Swift's
# -target-cpu take processor names, and the arm64 baseline processor is LLVM's "generic"
# (armv8-a with NEON); "armv8-a" itself is an architecture, which -mcpu refuses.
target_cpu_for() {
    case "$1" in
        cortex-a76) echo cortex-a76 ;;
        armv8-a) echo generic ;;
        *) echo "unknown CPU $1: cortex-a76 (Raspberry Pi 5, RK3588's big cores) or armv8-a (any arm64)" >&2; return 2 ;;
    esac
}
