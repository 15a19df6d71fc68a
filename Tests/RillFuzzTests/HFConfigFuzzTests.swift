import Foundation
import RillConvert
import RillFormat
import XCTest

/// Hostile `config.json`: every input decodes to a validated `ModelConfig` or throws
/// `RillFileError`, for numbers out of range, wrong types, missing fields and broken JSON.
final class HFConfigFuzzTests: XCTestCase {
    static func seeds() throws -> [[UInt8]] {
        try ["mamba-tiny", "transnormer-tiny", "samba-tiny", "holdout/mamba", "holdout/transnormer", "holdout/samba", "subllm-tiny", "llama-tiny"]
            .map { try fixtureBytes("\($0)/config.json") }
    }

    static func decode(_ bytes: [UInt8]) throws {
        let c = try HFConfigDecoder.decode(data: Data(bytes), path: "config.json")
        // A config that validates must describe sizes the converter can compute with.
        _ = c.config.vocabSize.multipliedReportingOverflow(by: c.config.hiddenSize)
    }

    /// 200,000 mutated configs (about 8 s in release on two cores).
    func testMutatedConfigsDecodeOrThrow() throws {
        let stats = runFuzz("config.json", seeds: try Self.seeds(), iterations: 200_000, seed: 0x4346, json: true) {
            try Self.decode($0)
        }
        XCTAssertGreaterThan(stats.accepted, 0)
        XCTAssertGreaterThan(stats.errorKinds.count, 30)
    }
}
