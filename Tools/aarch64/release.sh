#!/usr/bin/env bash
# Makes the linux-arm64 release binaries of `rill` and tests them as a user would install them.
#
#   rill-linux-arm64              armv8-a baseline: any 64-bit Raspberry Pi OS / Debian / Ubuntu
#                                 arm64 board (Pi 3/4/5, RK3588, Jetson); plain NEON kernels
#   rill-linux-arm64-cortex-a76   Cortex-A76 class and newer (Pi 5, RK3588): NEON dot-product
#                                 (sdot) kernels; stops with SIGILL on cores without them (Pi 4)
#
# Each is built by Debian's arm64 Swift 6.0.3 in the root of make_root.sh (under qemu) with
# `swift build -c release --static-swift-stdlib --product rill` (Swift runtime and Foundation
# linked in), then stripped. What it still needs is listed twice: `readelf -d` (NEEDED) and
# `ldd`, both run in a second, clean arm64 root — Debian trixie minbase plus only
# `apt-get install libopenblas0 liblz4-1`, no Swift — where the binary then runs the README's
# first command's convert and generate steps on Tests/Fixtures/mamba-tiny:
#   rill convert Tests/Fixtures/mamba-tiny -o mamba-tiny.rill --quant int8
#   rill run mamba-tiny.rill -p "And God said" -n 64 --temp 0
#
# Usage (as root):
#   Tools/aarch64/release.sh [armv8-a] [cortex-a76]      (default: both)
# Environment:
#   RILL_ARM64_DIST        where the binaries, SHA256SUMS and the install test's output go
#                          (default /var/cache/rill-arm64-dist)
#   RILL_ARM64_CLEAN_ROOT  the clean install-test root (default /var/cache/rill-arm64-clean-root;
#                          made once by debootstrap, about 3 minutes)
#   RILL_ARM64_NO_SYNC=1   build what the root already holds (no sync of the working tree)
#   RILL_ARM64_FROM_TEST_BUILD=1   build in test.sh's folder of the same CPU
#                          (.build-arm64-CPU-test, with -enable-testing), meant to relink the
#                          tested objects only. NOT YET TRUE: tried on 3 Dec, arm64 Swift 6.0.3
#                          began recompiling every module (RillFormat first), so some build
#                          parameter still differs from test.sh's `--build-tests` build (natively,
#                          a debug build did relink only). Find which before relying on it.
# Idempotent: both roots and the builds are reused; a second run relinks only what changed.
source "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
cpus=("$@"); [ ${#cpus[@]} -gt 0 ] || cpus=(armv8-a cortex-a76)
DIST="${RILL_ARM64_DIST:-/var/cache/rill-arm64-dist}"
CLEAN="${RILL_ARM64_CLEAN_ROOT:-/var/cache/rill-arm64-clean-root}"
MIRROR="${RILL_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
case "$DIST/" in "$REPO"/*) echo "RILL_ARM64_DIST must be outside the repository" >&2; exit 2 ;; esac
case "$CLEAN/" in "$REPO"/*) echo "RILL_ARM64_CLEAN_ROOT must be outside the repository" >&2; exit 2 ;; esac
require_root
"$AARCH64_DIR/check_manifest.sh"
exec 9>"$ROOT/.rill-lock"; flock 9
mkdir -p "$DIST"
clean_mounted=0
cleanup() {
    if [ $clean_mounted = 1 ]; then
        is_mounted "$CLEAN/dev" && umount "$CLEAN/dev"
        is_mounted "$CLEAN/proc" && umount "$CLEAN/proc"
    fi
    umount_root
}
trap cleanup EXIT
mount_root
if [ -z "${RILL_ARM64_NO_SYNC:-}" ]; then timed "sync working tree into the root" sync_tree; fi

# 1. Static builds.
for cpu_name in "${cpus[@]}"; do
    cpu=$(target_cpu_for "$cpu_name")
    scratch=".build-arm64-$cpu_name"; testing=""
    if [ -n "${RILL_ARM64_FROM_TEST_BUILD:-}" ]; then scratch="$scratch-test"; testing="-Xswiftc -enable-testing"; fi
    EXTRA_ENV=(RILL_TARGET_CPU="$cpu")
    timed "swift build -c release --static-swift-stdlib --product rill $testing ($cpu_name, $scratch)" \
        in_root "cd $SRC_IN_ROOT && swift build -c release --static-swift-stdlib $testing -j $JOBS --scratch-path $scratch --product rill"
    name=rill-linux-arm64; [ "$cpu_name" = armv8-a ] || name="rill-linux-arm64-$cpu_name"
    in_root "strip -o /tmp/$name $SRC_IN_ROOT/$scratch/release/rill"
    cp "$ROOT/tmp/$name" "$DIST/$name"
done
EXTRA_ENV=()
# The binaries in $DIST (this run's and earlier ones'), not the reports written beside them.
binaries=()
for f in "$DIST"/rill-linux-arm64 "$DIST"/rill-linux-arm64-cortex-a76; do
    if [ -f "$f" ]; then binaries+=("$(basename "$f")"); fi
done
(cd "$DIST" && sha256sum "${binaries[@]}" >SHA256SUMS)

# 2. The clean root: no Swift, only the two libraries the install note names.
if [ ! -e "$CLEAN/.rill-clean-root-ready" ]; then
    [ -e "$CLEAN" ] && { echo "$CLEAN exists but is not finished: remove it" >&2; exit 2; }
    timed "debootstrap clean root" "${LOW[@]}" debootstrap --arch=arm64 --variant=minbase trixie "$CLEAN.partial" "$MIRROR"
    mv "$CLEAN.partial" "$CLEAN"
    cp /etc/resolv.conf "$CLEAN/etc/resolv.conf"
    mount -t proc proc "$CLEAN/proc"; mount --bind /dev "$CLEAN/dev"; clean_mounted=1
    timed "apt-get install libopenblas0 liblz4-1 (clean root)" "${LOW[@]}" chroot "$CLEAN" /bin/sh -c \
        'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends libopenblas0 liblz4-1 binutils >/dev/null && apt-get clean'
    touch "$CLEAN/.rill-clean-root-ready"
fi
if [ $clean_mounted = 0 ]; then
    mount -t proc proc "$CLEAN/proc"; mount --bind /dev "$CLEAN/dev"; clean_mounted=1
fi

# 3. Install test in the clean root: what each binary needs, and the README's first command.
rm -rf "$CLEAN/opt/rill-test"; mkdir -p "$CLEAN/opt/rill-test/Tests/Fixtures"
cp -r "$REPO/Tests/Fixtures/mamba-tiny" "$CLEAN/opt/rill-test/Tests/Fixtures/"
status=0
for name in "${binaries[@]}"; do
    f="$DIST/$name"
    cp "$f" "$CLEAN/opt/rill-test/$name"
    report="$DIST/$name.install-test.txt"
    {
        echo "# $name  ($(stat -c %s "$f") bytes, stripped; sha256 $(sha256sum "$f" | cut -c1-16)…)"
        echo "## file"; chroot "$CLEAN" /bin/sh -c "cd /opt/rill-test && readelf -h $name | grep -E 'Class|Machine'"
        echo "## readelf -d (NEEDED)"; chroot "$CLEAN" /bin/sh -c "readelf -d /opt/rill-test/$name | grep NEEDED"
        echo "## highest symbol versions required"
        chroot "$CLEAN" /bin/sh -c "readelf -V --wide /opt/rill-test/$name | grep -oE '(GLIBC|GLIBCXX|CXXABI|GCC)_[0-9.]+' | sort -t_ -k1,1 -k2,2V | awk -F_ '{m[\$1]=\$0} END {for (k in m) print m[k]}' | sort"
        echo "## ldd, in a trixie arm64 root with only libopenblas0 and liblz4-1 installed"
        chroot "$CLEAN" /bin/sh -c "ldd /opt/rill-test/$name"
    } >"$report" 2>&1
    # The README's first command, convert and generate (as the user would type them, cwd = repo).
    if timed "install test: convert + run ($name)" "${LOW[@]}" chroot "$CLEAN" /bin/sh -c \
        "cd /opt/rill-test && rm -f mamba-tiny.rill && ./$name convert Tests/Fixtures/mamba-tiny -o mamba-tiny.rill --quant int8 && ./$name run mamba-tiny.rill -p 'And God said' -n 64 --temp 0" \
        >"$DIST/$name.smoke.txt" 2>&1; then
        echo "## README first command: PASS" >>"$report"
    else
        echo "## README first command: FAIL" >>"$report"; status=1
    fi
    cat "$DIST/$name.smoke.txt" >>"$report"
    cat "$report" >&2
done
log "binaries and reports in $DIST"
exit $status
