#!/usr/bin/env bash
# Runs Rill's test suites as arm64 code under qemu, built by Debian's arm64 Swift 6.0.3 inside
# the root made by make_root.sh (release build with testing enabled, as `swift test -c release`
# builds on x86-64, kernels for one CPU through RILL_TARGET_CPU).
#
# Usage (as root):
#   Tools/aarch64/test.sh [cortex-a76|armv8-a] [TEST_TARGET...]
# CPU defaults to cortex-a76 (NEON with dot products); TEST_TARGETs default to every test target
# of Package@swift-6.0.swift, kernels first: RillKernelsTests RillFormatTests RillTokenizerTests
# RillModelsTests RillFuzzTests (golden logits are in RillModelsTests, hostile files in
# RillFuzzTests and RillFormatTests). RILL_FUZZ_SCALE is passed on (RillFuzzTests' size).
# RILL_ARM64_NO_SYNC=1: no sync in step 1 (test what the root already holds).
#
# Steps, each timed (stderr, and a table at the end):
#   1. sync the working tree into the root; swift build -c release --build-tests -Xswiftc
#      -enable-testing (what `swift test -c release` builds: RillTokenizerTests imports
#      @testable, and `swift build` has no --enable-testable-imports)
#   2. the C kernels' ISA check: Tools/kernel_isa_check/harness.c linked against the very
#      CRillKernels objects of this build (not a rebuild of their sources), run under qemu: it
#      prints the instruction-set path the build compiled (neon-dotprod, neon) and checks every
#      kernel against a double-precision reference
#   3. swift test --skip-build --filter TARGET, one run per target
# Logs (whole XCTest output, with the golden figures the golden tests print):
#   $RILL_ARM64_LOGS (default /var/cache/rill-arm64-logs)/test-CPU-TARGET.log
# At the end: a table of the steps' times, each target's XCTest count, and the golden figures
# (golden_figures.py: f32 max |Δlogit|, int8/int4 arg-max agreement per fixture).
# Exit status: 0 when every step passed.
source "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
cpu_name=${1:-cortex-a76}; [ $# -gt 0 ] && shift
cpu=$(target_cpu_for "$cpu_name")
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(RillKernelsTests RillFormatTests RillTokenizerTests RillModelsTests RillFuzzTests)
LOGS="${RILL_ARM64_LOGS:-/var/cache/rill-arm64-logs}"
mkdir -p "$LOGS"
require_root
"$AARCH64_DIR/check_manifest.sh"
exec 9>"$ROOT/.rill-lock"; flock 9
trap umount_root EXIT
mount_root
TIMINGS=${TIMINGS:-$(mktemp)}
: >"$TIMINGS.steps"
step() {  # label command...: timed, recorded for the summary
    local label=$1 rc=0 t0; shift
    t0=$(date +%s)
    "$@" || rc=$?
    printf '%s\t%d\t%d\n' "$label" "$(($(date +%s) - t0))" "$rc" >>"$TIMINGS.steps"
    log "$label: $(($(date +%s) - t0)) s (exit $rc)"
    return $rc
}

status=0
# RILL_ARM64_NO_SYNC=1 tests the copy already in the root (e.g. after a build of it, while the
# working tree has moved on) instead of syncing the working tree into it first.
if [ -z "${RILL_ARM64_NO_SYNC:-}" ]; then step "sync working tree" sync_tree; fi
scratch=".build-arm64-$cpu_name-test"
EXTRA_ENV=(RILL_TARGET_CPU="$cpu" RILL_FUZZ_SCALE="${RILL_FUZZ_SCALE:-1}")
step "swift build -c release --build-tests ($cpu_name)" \
    in_root "cd $SRC_IN_ROOT && swift build -c release --build-tests -Xswiftc -enable-testing -j $JOBS --scratch-path $scratch" \
    >"$LOGS/build-$cpu_name-test.log" 2>&1 \
    || { grep -E 'error:' "$LOGS/build-$cpu_name-test.log" | head -n 20 >&2; log "build failed: $LOGS/build-$cpu_name-test.log"; exit 1; }

# The C kernels of this very build against the reference, and the path they were compiled for.
# (With the toolchain's own clang: Debian's swiftlang keeps it in /usr/libexec/swift/bin, off PATH.)
objs="$scratch/aarch64-unknown-linux-gnu/release/CRillKernels.build"
step "C kernels of the build vs reference (kernel_isa_check harness)" \
    in_root "cd $SRC_IN_ROOT && /usr/libexec/swift/bin/clang -O2 -Wno-psabi -ISources/CRillKernels/include Tools/kernel_isa_check/harness.c $objs/*.o -lm -o /tmp/rill-isa-check && /tmp/rill-isa-check" \
    >"$LOGS/isa-$cpu_name.log" 2>&1 || status=1
grep -iE 'path|isa|neon|pass|fail' "$LOGS/isa-$cpu_name.log" | tail -n 3 >&2 || true

for s in "${suites[@]}"; do
    log "swift test --filter $s ($cpu_name) → $LOGS/test-$cpu_name-$s.log"
    step "swift test --filter $s ($cpu_name)" \
        in_root "cd $SRC_IN_ROOT && swift test -c release --skip-build --scratch-path $scratch --filter '$s\\.'" \
        >"$LOGS/test-$cpu_name-$s.log" 2>&1 || status=1
    grep -E "^\s*Executed [0-9]+ tests?" "$LOGS/test-$cpu_name-$s.log" | tail -n 1 >&2 || true
done

echo
echo "arm64 ($cpu_name) on $(in_root 'swift --version 2>&1 | head -n 1'), source $(cat "$ROOT$SRC_IN_ROOT/.rill-source-revision" 2>/dev/null)"
printf '%-70s %8s %6s\n' step seconds exit
while IFS=$'\t' read -r label secs rc; do printf '%-70s %8s %6s\n' "$label" "$secs" "$rc"; done <"$TIMINGS.steps"
for s in "${suites[@]}"; do
    printf '%-20s %s\n' "$s" "$(grep -E '^\s*Executed [0-9]+ tests?' "$LOGS/test-$cpu_name-$s.log" | tail -n 1 | sed 's/^ *//')"
done
if [ -f "$LOGS/test-$cpu_name-RillModelsTests.log" ]; then
    echo; echo "golden figures (Tools/aarch64/golden_figures.py):"
    "$AARCH64_DIR/golden_figures.py" "arm64 $cpu_name=$LOGS/test-$cpu_name-RillModelsTests.log" || true
fi
cat "$TIMINGS.steps" >>"$TIMINGS"; rm -f "$TIMINGS.steps"
exit $status
