#!/usr/bin/env bash
# The test command of the README and of CI (.ci/run): the whole suite in a release build, then
# the whole suite again under AddressSanitizer (its own release build in .build-asan; 10–15
# minutes more on 2 cores). A heap overflow, use-after-free or bad pointer arithmetic in a
# parser or kernel fails the run even where the first pass happened to survive it.
#
# LeakSanitizer is off (detect_leaks=0): XCTest on Linux leaks objects of its own at exit, which
# fails every run whatever the code under test does. Leaks of ours would be growth per token,
# which the fixed-memory tests catch.
# ThreadSanitizer (`swift test -c release --sanitize=thread --scratch-path .build-tsan`) passes
# too; it is left out here to keep CI short.
set -euo pipefail
cd "$(dirname "$0")/.."
swift test -c release "$@"
ASAN_OPTIONS=detect_leaks=0 swift test -c release --sanitize=address --scratch-path .build-asan "$@"
