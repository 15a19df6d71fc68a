#!/usr/bin/env bash
# Runs Tools/nginx/rill.conf on loopback in front of two `rill serve` processes and checks that
# completions (plain and streamed) pass through it, that a stream arrives as events, and that a
# full server's 503 goes to the other one.
#   Tools/nginx/check.sh [path/to/rill] [model.rill]
set -euo pipefail
cd "$(dirname "$0")/../.."
rill=${1:-.build/release/rill}
model=${2:-}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; nginx -p "$work" -c "$PWD/Tools/nginx/rill.conf" -s stop 2>/dev/null || true; sleep 0.3; rm -rf "$work"; }
trap cleanup EXIT
if [ -z "$model" ]; then
    model=$work/mamba-tiny.rill
    "$rill" convert Tests/Fixtures/mamba-tiny -o "$model" --quant int8 >/dev/null
fi
for port in 8181 8182; do
    "$rill" serve "$model" --port $port --slots 1 --queue 0 >"$work/serve-$port.log" 2>&1 &
    pids+=($!)
done
for port in 8181 8182; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
done
nginx -p "$work" -c "$PWD/Tools/nginx/rill.conf"
base=http://127.0.0.1:8180
curl -sf $base/v1/completions -H 'Content-Type: application/json' \
    -d '{"prompt": "And God said", "max_tokens": 8, "temperature": 0}' | grep -q '"text_completion"'
echo "ok: a completion through nginx"
curl -sfN $base/v1/completions -H 'Content-Type: application/json' \
    -d '{"prompt": "And God said", "max_tokens": 8, "stream": true}' >"$work/stream.txt"
[ "$(grep -c '^data: ' "$work/stream.txt")" -ge 3 ] && tail -n 2 "$work/stream.txt" | grep -q 'data: \[DONE\]'
echo "ok: a stream through nginx, $(grep -c '^data: ' "$work/stream.txt") events ending in [DONE]"
# Hold this client's server busy with a long stream; a second request from the same client
# (same hash) gets its 503 there and is retried on the other server.
curl -sN $base/v1/completions -H 'Content-Type: application/json' \
    -d '{"prompt": "In the beginning", "max_tokens": 3000, "stream": true}' >/dev/null &
long=$!
sleep 0.5
code=$(curl -s -o "$work/second.json" -w '%{http_code}' $base/v1/completions -H 'Content-Type: application/json' \
    -d '{"prompt": "And God said", "max_tokens": 4}')
kill $long 2>/dev/null || true
[ "$code" = 200 ] || { echo "FAIL: the second request got $code"; cat "$work/second.json"; exit 1; }
echo "ok: a full server's 503 went to the other server (200)"
echo "nginx check: all passed"
