#!/usr/bin/env bash
# The test command of the README and of CI (.ci/run): the whole suite in a release build, then
# `rill serve` driven by the official OpenAI Python client and a short load test, then the
# whole suite again under AddressSanitizer (its own release build in .build-asan; 10–15
# minutes more on 2 cores). A heap overflow, use-after-free or bad pointer arithmetic in a
# parser or kernel fails the run even where the first pass happened to survive it.
#
# LeakSanitizer is off (detect_leaks=0): XCTest on Linux leaks objects of its own at exit, which
# fails every run whatever the code under test does. Leaks of ours would be growth per token,
# which the fixed-memory tests catch.
# ThreadSanitizer (`swift test -c release --sanitize=thread --scratch-path .build-tsan`) passes
# too; it is left out here to keep CI short.
#
# The client check needs the `openai` Python package (.ci/run installs it); without it that
# step says so and is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
swift test -c release "$@"

# `swift test` built the rill executable too, with the same flags; a `swift build -c release`
# here would build everything again without -enable-testing.
[ -x .build/release/rill ] || { echo "no .build/release/rill after swift test" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.build/release/rill convert Tests/Fixtures/mamba-tiny -o "$work/mamba-tiny.rill" --quant int8 >/dev/null
if python3 -c "import openai" 2>/dev/null; then
    python3 Tools/openai_client_check.py --rill .build/release/rill --model "$work/mamba-tiny.rill"
else
    echo "skipped: Tools/openai_client_check.py needs the openai package (pip install openai)" >&2
fi
# Concurrent clients, streams hung up on, 1,000 idle connections, a stalled request: no request
# lost, resident memory flat.
python3 Tools/load_test.py --rill .build/release/rill --model "$work/mamba-tiny.rill" \
    --clients 12 --requests 400 --slots 2 --queue 6 --idle 1000 --cache-mb 2 --rss-slack-mb 12

ASAN_OPTIONS=detect_leaks=0 swift test -c release --sanitize=address --scratch-path .build-asan "$@"
