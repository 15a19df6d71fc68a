#!/usr/bin/env bash
# libFuzzer targets for Rill's parsers of untrusted input.
#
#   Tools/fuzz.sh TARGET [SECONDS] [libFuzzer flags…]
#
# TARGET: rill_file | safetensors | hf_config | tokenizer | state_file (Tools/fuzz/TARGET.swift).
# SECONDS 0 builds the target and writes its seeds without fuzzing.
# Builds the library once with coverage and AddressSanitizer (SwiftPM, scratch path
# .build-fuzz/libfuzzer), links Tools/fuzz/TARGET.swift against its objects, writes a seed
# corpus from Tests/Fixtures into .fuzz/seeds/TARGET, then fuzzes for SECONDS (default 60)
# with one job. The growing corpus is kept in .fuzz/corpus/TARGET, crashing inputs land in
# .fuzz/artifacts/TARGET/ (both ignored by git). Reproduce one with
#   .fuzz/bin/TARGET .fuzz/artifacts/TARGET/crash-…
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target=${1:?usage: Tools/fuzz.sh TARGET [SECONDS] [libFuzzer flags…]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
[ -f "Tools/fuzz/$target.swift" ] || { echo "no such target: Tools/fuzz/$target.swift" >&2; exit 2; }

scratch=.build-fuzz/libfuzzer
work=.fuzz
mkdir -p "$work/bin" "$work/seeds" "$work/corpus/$target" "$work/artifacts/$target"

# 1. The library modules, instrumented (the executable and the tests are not built). SwiftPM
#    also tries to link the package-benchmark plugin's host tools with these flags; those links
#    fail ("link command failed", a gold internal error) and do not matter: only the modules'
#    objects are used below.
flags=(-c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address)
for t in RillRuntime RillConvert; do
    swift build "${flags[@]}" --target "$t" 2>&1 | grep -Ev '^\[|^Building|^Compiling|^Write|warning: Cannot export' || true
done
bin=$(swift build "${flags[@]}" --show-bin-path)

# 2. The target: its entry file and the shared input helpers, linked with the objects of the
#    library targets (Sources/*, not the executable) and of the packages they use.
modules=(RealModule ComplexModule Numerics _NumericsShims Logging)
for d in Sources/*; do
    name=$(basename "$d")
    [ "$name" = rill ] || modules+=("$name")
done
objects=()
for m in "${modules[@]}"; do
    for o in "$bin/$m.build"/*.o; do
        [ -f "$o" ] || continue
        # An object of a source file since deleted stays in the scratch folder and would be
        # linked twice over (duplicate symbols): keep our modules' objects of existing sources.
        if [ -d "Sources/$m" ] && [ -z "$(find "Sources/$m" -name "$(basename "$o" .o)" -print -quit)" ]; then continue; fi
        objects+=("$o")
    done
done
includes=()
for d in Sources/C*; do
    name=$(basename "$d")
    if [ -f "$d/module.modulemap" ]; then
        includes+=(-I "$d")
    elif [ -f "$bin/$name.build/module.modulemap" ]; then
        includes+=(-Xcc -fmodule-map-file="$bin/$name.build/module.modulemap" -I "$d/include")
    fi
done
for m in $(find "$scratch/checkouts" -path '*/include/module.modulemap'); do includes+=(-I "$(dirname "$m")"); done
rm -f "$work/bin/$target"
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name "fuzz_$target" \
    -I "$bin/Modules" "${includes[@]}" \
    Tools/fuzz/Common.swift Tools/fuzz/"$target".swift \
    Tests/RillFuzzTests/FuzzInputs.swift Tests/RillFuzzTests/FuzzFixtures.swift \
    "${objects[@]}" -lopenblas -llz4 -use-ld=lld -o "$work/bin/$target" 2>&1 | grep -v 'warning: Cannot export' || true
[ -x "$work/bin/$target" ] || { echo "link failed" >&2; exit 1; }

# 3. Seeds from the fixtures (written by the target itself, through the library).
rm -rf "$work/seeds/$target"
RILL_FUZZ_SEEDS="$work/seeds/$target" "$work/bin/$target"
[ "$seconds" = 0 ] && exit 0

# 4. Fuzz. Leaks are not failures here (Swift's global caches look like leaks to LSan).
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} "$work/bin/$target" \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$work/artifacts/$target/" "$@" \
    "$work/corpus/$target" "$work/seeds/$target"
