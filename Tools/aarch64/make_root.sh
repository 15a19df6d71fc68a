#!/usr/bin/env bash
# Builds the arm64 Debian root in which Rill is built and tested under emulation: Debian trixie
# for arm64 (debootstrap, minbase) with Debian's own arm64 Swift toolchain (package swiftlang,
# Swift 6.0.3), OpenBLAS, liblz4, pkg-config and git. Each arm64 program in it runs under
# qemu-user-static through binfmt_misc.
#
# Usage (as root, on an x86-64 Debian host):
#   Tools/aarch64/make_root.sh
# Environment: RILL_ARM64_ROOT (default /var/cache/rill-arm64-root, must be outside the
# repository), RILL_DEBIAN_MIRROR (default: the host's own Debian mirror, deb.debian.org),
# RILL_ROOT_ARCH (default arm64; amd64 makes the native Swift 6.0.3 root of swift60_check.sh).
#
# Idempotent: host packages, binfmt and the root are made only when missing; a finished root
# is marked with .rill-root-ready and later runs only check it (and install packages that a
# newer version of this script adds). An interrupted debootstrap is redone from scratch
# (ROOT.partial). Times on a 2-core host: debootstrap 2–4 min, the packages 5–10 min.
source "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
MIRROR="${RILL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ARCH="${RILL_ROOT_ARCH:-arm64}"
# libc6-dev and libstdc++-14-dev: swiftlang only depends on gcc, whose Recommends (not installed
# here) bring the C library headers the Swift compiler imports.
ROOT_PACKAGES="swiftlang libopenblas-dev liblz4-dev pkg-config git ca-certificates binutils file libc6-dev libstdc++-14-dev"

# 1. The host's tools.
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null \
    || ! command -v update-binfmts >/dev/null || ! command -v rsync >/dev/null; then
    log "installing qemu-user-static debootstrap binfmt-support rsync on the host"
    export DEBIAN_FRONTEND=noninteractive
    timed "host apt-get install" "${LOW[@]}" apt-get install -y -qq qemu-user-static debootstrap binfmt-support rsync >/dev/null \
        || { apt-get update -qq && "${LOW[@]}" apt-get install -y -qq qemu-user-static debootstrap binfmt-support rsync >/dev/null; }
fi
enable_binfmt

# 2. The root.
if [ ! -e "$ROOT/.rill-debootstrap-done" ]; then
    [ -e "$ROOT" ] && { echo "$ROOT exists but was not made by this script: remove it or set RILL_ARM64_ROOT" >&2; exit 2; }
    partial="$ROOT.partial"
    if [ -e "$partial" ]; then
        if grep -q " $partial" /proc/mounts; then echo "$partial has mounts: unmount them first" >&2; exit 2; fi
        log "removing the interrupted $partial"
        rm -rf --one-file-system "$partial"
    fi
    mkdir -p "$(dirname "$ROOT")"
    log "debootstrap $ARCH trixie into $partial"
    timed "debootstrap --arch=$ARCH --variant=minbase trixie" \
        "${LOW[@]}" debootstrap --arch="$ARCH" --variant=minbase trixie "$partial" "$MIRROR"
    touch "$partial/.rill-debootstrap-done"
    mv "$partial" "$ROOT"
fi

# 3. Packages inside it, and git mapping github.com onto this machine's package mirrors.
trap umount_root EXIT
mount_root
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
missing=$(in_root "dpkg-query -W -f='\${db:Status-Abbrev} \${Package}\n' $ROOT_PACKAGES 2>/dev/null | grep -c '^ii ' || true")
if [ "$missing" != "$(wc -w <<<"$ROOT_PACKAGES")" ]; then
    log "installing $ROOT_PACKAGES in the root"
    timed "apt-get install (in the root)" in_root "export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends $ROOT_PACKAGES >/dev/null && apt-get clean"
fi
cat >"$ROOT/etc/gitconfig" <<EOF
# Written by Rill's Tools/aarch64/make_root.sh: package URLs resolve to this machine's mirrors
# (bound read-only at $PACKAGES_DIR), as on the host.
[url "$PACKAGES_DIR/"]
	insteadOf = https://github.com/
	insteadOf = git@github.com:
	insteadOf = ssh://git@github.com/
[safe]
	directory = *
EOF
in_root "swift --version" >&2
touch "$ROOT/.rill-root-ready"
log "$ARCH root ready at $ROOT"
