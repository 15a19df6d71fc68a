import Foundation

// Shared by every libFuzzer target; each target is this file, `Tests/RillFuzzTests/FuzzInputs.swift`,
// `Tests/RillFuzzTests/FuzzFixtures.swift` and one entry file that defines
// `LLVMFuzzerTestOneInput` and `fuzzSeeds()` (see `Tools/fuzz.sh`).

/// libFuzzer calls this once before the first input. With `RILL_FUZZ_SEEDS=DIR` in the
/// environment the target writes its seed corpus (built from the fixtures) into DIR and exits.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    guard let dir = ProcessInfo.processInfo.environment["RILL_FUZZ_SEEDS"] else { return 0 }
    do {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (i, seed) in try fuzzSeeds().enumerated() {
            try Data(seed).write(to: URL(fileURLWithPath: "\(dir)/seed-\(i)"))
        }
        exit(0)
    } catch {
        fputs("cannot write seeds: \(error)\n", stderr)
        exit(1)
    }
}

/// The input as an array (libFuzzer passes a null pointer for the empty input).
func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}
