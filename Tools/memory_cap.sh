#!/usr/bin/env bash
# Runs `rill run` inside a memory cap (a cgroup) to check two claims about memory:
#
#   1. The model is memory-mapped, so its pages are evictable: generation completes under a cap
#      smaller than the file (plus a fixed allowance for the runtime), the kernel dropping and
#      re-reading weight pages as needed.
#   2. Memory does not grow with the number of generated tokens: peak RSS after 1,000 and after
#      100,000 tokens differ by less than 1 MiB.
#
# Usage (as root):
#   Tools/memory_cap.sh MODEL.rill
# Environment:
#   RILL=path/to/rill     the binary (default .build/release/rill; use a release build)
#   SHORT=1000 LONG=100000  token counts of the two runs compared
#   THREADS=2             worker threads
#   ALLOWANCE_MIB=48      cap = file size + this (must stay below file size + 64 MiB)
#
# The cap uses cgroup v2 (memory.max, memory.peak) when the memory controller is there, else
# cgroup v1 (memory.limit_in_bytes, memory.max_usage_in_bytes), else `systemd-run --scope -p
# MemoryMax=`. Before each run the model's pages are dropped from the page cache so that the
# run faults them in, and they are charged to its cgroup. Prints PASS/FAIL lines; exits 1 on
# any failure, 2 when it cannot run.
set -uo pipefail

model=${1:?usage: Tools/memory_cap.sh MODEL.rill}
rill=${RILL:-.build/release/rill}
short=${SHORT:-1000}
long=${LONG:-100000}
threads=${THREADS:-2}
allowance_mib=${ALLOWANCE_MIB:-48}
MiB=$((1 << 20))

[ -f "$model" ] || { echo "no such model: $model" >&2; exit 2; }
[ -x "$rill" ] || { echo "no rill binary at $rill (build with swift build -c release, or set RILL)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (GNU time) for peak RSS" >&2; exit 2; }
[ "$allowance_mib" -lt 64 ] || { echo "ALLOWANCE_MIB must be below 64" >&2; exit 2; }

file_bytes=$(stat -c %s "$model")
cap=$((file_bytes + allowance_mib * MiB))
# Half the weights plus the runtime allowance: the model cannot stay resident, pages must go.
tight_cap=$((file_bytes / 2 + allowance_mib * MiB))
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }

# --- The cgroup ------------------------------------------------------------------------------
mode=
if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    mode=v2
    parent=/sys/fs/cgroup
    grep -qw memory "$parent/cgroup.subtree_control" || echo +memory > "$parent/cgroup.subtree_control"
elif [ -d /sys/fs/cgroup/memory ]; then
    mode=v1
    own=$(awk -F: '$2 == "memory" { print $3 }' /proc/self/cgroup)
    parent=/sys/fs/cgroup/memory${own%/}
elif command -v systemd-run > /dev/null && systemctl is-system-running > /dev/null 2>&1; then
    mode=systemd
else
    echo "no cgroup memory controller and no systemd: cannot cap memory" >&2
    exit 2
fi
cg=
cleanup() { [ -n "$cg" ] && [ -d "$cg" ] && rmdir "$cg" 2> /dev/null; }
trap cleanup EXIT

# run_capped CAP N → sets rc, rss_kib (peak RSS, GNU time), cg_peak (cgroup peak bytes or "n/a"),
# seconds, oom (1 when the cgroup OOM-killed something).
run_capped() {
    local limit=$1 n=$2 log
    log=$(mktemp)
    # Drop the model's cached pages so this run faults (and is charged for) them.
    dd if="$model" iflag=nocache count=0 status=none 2> /dev/null || true
    local cmd=("$rill" run "$model" --ids 1 -n "$n" --ignore-eos --temp 0 -t "$threads")
    local start=$SECONDS
    oom=0
    cg_peak=n/a
    case $mode in
    v2)
        cg=$parent/rill-memcap-$$
        mkdir "$cg"
        echo "$limit" > "$cg/memory.max"
        [ -f "$cg/memory.swap.max" ] && echo 0 > "$cg/memory.swap.max"
        sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$cg" /usr/bin/time -v "${cmd[@]}" > /dev/null 2> "$log"
        rc=$?
        [ -f "$cg/memory.peak" ] && cg_peak=$(cat "$cg/memory.peak")
        [ "$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events")" != 0 ] && oom=1
        rmdir "$cg"
        ;;
    v1)
        cg=$parent/rill-memcap-$$
        mkdir "$cg"
        echo "$limit" > "$cg/memory.limit_in_bytes"
        [ -f "$cg/memory.memsw.limit_in_bytes" ] && echo "$limit" > "$cg/memory.memsw.limit_in_bytes"
        sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$cg" /usr/bin/time -v "${cmd[@]}" > /dev/null 2> "$log"
        rc=$?
        cg_peak=$(cat "$cg/memory.max_usage_in_bytes")
        [ "$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.oom_control")" != 0 ] && oom=1
        rmdir "$cg"
        ;;
    systemd)
        systemd-run --quiet --scope -p MemoryMax="$limit" -p MemorySwapMax=0 /usr/bin/time -v "${cmd[@]}" > /dev/null 2> "$log"
        rc=$?
        ;;
    esac
    cg=
    seconds=$((SECONDS - start))
    rss_kib=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
    [ "$rc" = 0 ] || { echo "--- rill run -n $n (exit $rc) ---"; tail -5 "$log"; }
    rm -f "$log"
}

echo "model $model: $(mib "$file_bytes") MiB; cgroup $mode; rill $rill; $threads threads"

# --- 1. Evictable weights: a cap below the model's size --------------------------------------
run_capped "$tight_cap" "$short"
if [ "$rc" = 0 ] && [ "$oom" = 0 ]; then
    pass "$short tokens under a cap of $(mib "$tight_cap") MiB (half the file + $allowance_mib MiB): peak RSS $(mib $((rss_kib * 1024))) MiB, cgroup peak $( [ "$cg_peak" = n/a ] && echo n/a || echo "$(mib "$cg_peak") MiB"), ${seconds} s"
else
    fail "$short tokens under a cap of $(mib "$tight_cap") MiB: exit $rc, oom_kill $oom"
fi

# --- 2. No growth with tokens: cap = file + allowance, short and long runs --------------------
run_capped "$cap" "$short"
short_rc=$rc short_rss=$rss_kib short_peak=$cg_peak short_oom=$oom
if [ "$short_rc" = 0 ] && [ "$short_oom" = 0 ]; then
    pass "$short tokens under a cap of $(mib "$cap") MiB (file + $allowance_mib MiB): peak RSS $(mib $((short_rss * 1024))) MiB, cgroup peak $( [ "$short_peak" = n/a ] && echo n/a || echo "$(mib "$short_peak") MiB"), ${seconds} s"
else
    fail "$short tokens under a cap of $(mib "$cap") MiB: exit $short_rc, oom_kill $short_oom"
fi
run_capped "$cap" "$long"
if [ "$rc" = 0 ] && [ "$oom" = 0 ]; then
    pass "$long tokens under a cap of $(mib "$cap") MiB: peak RSS $(mib $((rss_kib * 1024))) MiB, cgroup peak $( [ "$cg_peak" = n/a ] && echo n/a || echo "$(mib "$cg_peak") MiB"), ${seconds} s"
else
    fail "$long tokens under a cap of $(mib "$cap") MiB: exit $rc, oom_kill $oom"
fi
if [ -n "$short_rss" ] && [ -n "$rss_kib" ] && [ "$short_rc" = 0 ] && [ "$rc" = 0 ]; then
    diff_kib=$((rss_kib - short_rss))
    abs_kib=${diff_kib#-}
    if [ "$abs_kib" -lt 1024 ]; then
        pass "peak RSS after $long tokens differs from after $short by $diff_kib KiB (< 1 MiB)"
    else
        fail "peak RSS after $long tokens differs from after $short by $diff_kib KiB (>= 1 MiB)"
    fi
else
    fail "peak RSS comparison: a run failed"
fi

[ "$failures" = 0 ] || exit 1
