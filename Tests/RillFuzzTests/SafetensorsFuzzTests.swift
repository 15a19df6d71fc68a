import Foundation
import RillFormat
import XCTest

/// Hostile safetensors files: every input opens or throws `RillFileError`; one that opens has
/// each tensor read back (floats or ints, as its dtype allows).
final class SafetensorsFuzzTests: XCTestCase {
    /// The three fixtures' checkpoints and golden files, shrunk to a few KB each.
    static func seeds() throws -> [[UInt8]] {
        try ["mamba-tiny", "transnormer-tiny", "samba-tiny"].flatMap { folder in
            [try FuzzFixtures.shrunkSafetensors("\(folder)/model.safetensors"),
             try FuzzFixtures.shrunkSafetensors("\(folder)/golden.safetensors")]
        }
    }

    /// Mutations of the JSON header (kept within the length prefix) or of the raw bytes.
    static func mutate(_ b: inout [UInt8], corpus: [[UInt8]], rng: inout SplitMix64) {
        let n = Int(clamping: b.u64(at: 0))
        if rng.chance(0.7), b.count >= 8, n <= b.count - 8 {
            var json = Array(b[8..<(8 + n)])
            for _ in 0..<(1 + rng.below(3)) { Mutator.jsonMutation(&json, rng: &rng) }
            var head: [UInt8] = []
            head.appendLE(UInt64(json.count))
            b = head + json + Array(b[(8 + n)...])
        } else {
            Mutator.byteMutation(&b, corpus: corpus, rng: &rng)
        }
    }

    static func open(_ bytes: [UInt8]) throws {
        let f = try SafetensorsFile(path: FuzzFile.write(bytes, tag: "safetensors"))
        for t in f.tensors.values {
            switch t.dtype {
            case .i32, .i64: _ = try t.int32s()
            default: _ = try t.floats()
            }
        }
    }

    /// 25,000 mutated files (about 9 s in release on two cores).
    func testMutatedSafetensorsOpenOrThrow() throws {
        let stats = runFuzz("safetensors", seeds: try Self.seeds(), iterations: 25_000, seed: 0x5354, mutate: Self.mutate) {
            try Self.open($0)
        }
        XCTAssertGreaterThan(stats.accepted, 0)
        XCTAssertGreaterThan(stats.errorKinds.count, 20)
    }
}
