import RillFormat
import RillRuntime
import XCTest

/// What `rill bench` counts as read per decoded token.
final class BytesPerTokenTests: XCTestCase {
    /// Every tensor once, the f32 vectors too (A, D, conv weights, norms): mamba-tiny's head is
    /// its embedding, so that is the whole file's tensors.
    func testMambaWeightBytesAreEveryTensor() throws {
        let m = try Model(path: ConvertedFixtures.path("mamba-tiny", .int8))
        let all = m.file.tensors.reduce(0) { $0 + Int($1.length) }
        XCTAssertEqual(m.network.weightBytesPerToken, all)
        let s = Session(model: m, threads: 1)
        XCTAssertEqual(s.stateBytesReadPerStep, s.stateBytes)
    }

    /// SAMBA reads the K/V of the positions in its window: more as the window fills, then the
    /// whole ring (samba-tiny: window 64) and no more.
    func testSambaStateReadGrowsUntilTheWindowIsFull() throws {
        let m = try Model(path: ConvertedFixtures.path("samba-tiny", .f32))
        let s = Session(model: m, threads: 1)
        let first = s.stateBytesReadPerStep
        try s.prefill((0..<40).map { Int32($0) })
        let mid = s.stateBytesReadPerStep
        try s.prefill((0..<40).map { Int32($0) })
        let full = s.stateBytesReadPerStep
        try s.prefill((0..<40).map { Int32($0) })
        XCTAssertLessThan(first, mid)
        XCTAssertLessThan(mid, full)
        XCTAssertEqual(full, s.stateBytes)
        XCTAssertEqual(s.stateBytesReadPerStep, full)
    }
}
