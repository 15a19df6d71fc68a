import RillFormat
import RillRuntime
import XCTest

/// `rill bench`'s bandwidth figures: the probe, and decode interleaved with its passes.
final class PairedBandwidthTests: XCTestCase {
    /// The passes interleaved with decode must not disturb it: the tokens it chooses are those
    /// of an undisturbed greedy decode from the same state, and the session ends in the same
    /// state (the next logits agree bit for bit).
    func testDecodeBetweenProbePassesIsTheSameDecode() throws {
        let m = try Model(path: ConvertedFixtures.path("samba-tiny", .int8))
        let prompt: [Int32] = [5, 17, 3, 99, 42, 7]
        let tokens = 12

        let plain = Session(model: m, threads: 2)
        try plain.prefill(prompt)
        var expected: [Int32] = []
        var next = argmax(plain.logits, m.vocabSize)
        for _ in 0..<tokens {
            try plain.step(next)
            next = argmax(plain.logits, m.vocabSize)
            expected.append(next)
        }

        let paired = Session(model: m, threads: 2)
        try paired.prefill(prompt)
        var token = argmax(paired.logits, m.vocabSize)
        let r = try PairedBandwidth.measure(
            session: paired, token: &token, tokens: tokens, weightBytesPerToken: m.network.weightBytesPerToken,
            segments: 4, probeBytes: 4 << 20)
        XCTAssertEqual(token, expected.last)
        XCTAssertEqual(paired.position, plain.position)
        for i in 0..<m.vocabSize where paired.logits[i].bitPattern != plain.logits[i].bitPattern {
            XCTFail("logit \(i): \(paired.logits[i]) after the paired decode, \(plain.logits[i]) without")
            break
        }

        for (name, v) in [("best", r.bestGBs), ("during decode", r.duringDecodeGBs), ("ratio", r.ratio), ("tok/s", r.decodeTokS)] {
            XCTAssertTrue(v.isFinite && v > 0, "\(name) = \(v)")
        }
    }

    /// Every token decoded whatever the split (fewer tokens than segments, a remainder), and
    /// the ratio is the bytes decoded over the bracketing passes' bytes in the same time:
    /// (bytes per token × tokens/s) ÷ the bandwidth during decode, exactly where, as in Mamba,
    /// each token reads the same bytes.
    func testEveryTokenIsDecodedAndTheRatioIsBytesOverAvailable() throws {
        let m = try Model(path: ConvertedFixtures.path("mamba-tiny", .int8))
        for (tokens, segments) in [(3, 8), (10, 4), (8, 8)] {
            let s = Session(model: m, threads: 1)
            try s.prefill([1, 2, 3])
            var token = argmax(s.logits, m.vocabSize)
            let before = s.position
            let r = try PairedBandwidth.measure(
                session: s, token: &token, tokens: tokens, weightBytesPerToken: m.network.weightBytesPerToken,
                segments: segments, probeBytes: 1 << 20)
            XCTAssertEqual(s.position, before + tokens, "\(tokens) tokens in \(segments) segments")
            let bytesPerToken = Double(m.network.weightBytesPerToken + s.stateBytesReadPerStep)
            XCTAssertEqual(r.ratio, bytesPerToken * r.decodeTokS / (r.duringDecodeGBs * 1e9), accuracy: 1e-9 * r.ratio)
        }
    }
}
