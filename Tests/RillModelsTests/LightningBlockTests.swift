import RillFormat
import Foundation
import RillModels
import XCTest

/// The Lightning Attention block (prefill) against the token-by-token recurrence.
final class LightningBlockTests: XCTestCase {
    /// Tolerance: relative 1e-4 of the output magnitude (sgemm sums in another order).
    func testBlockEqualsRecurrenceOnRandomDataOfOddSizes() {
        var rng = SplitMix64(seed: 7)
        for (t, dk, dv, s) in [(1, 5, 3, Float(0.3)), (7, 31, 17, 0.01), (33, 8, 8, 1e-5), (64, 64, 32, 0.25), (5, 3, 1, 0), (17, 10, 4, 4.0)] {
            let kv0 = rng.floats(dk * dv)
            let q = rng.floats(t * dk), k = rng.floats(t * dk)
            let ldv = dv + 3, ldo = dv + 5
            let v = rng.floats(t * ldv)
            var kvFast = kv0, kvRef = kv0
            var outFast = [Float](repeating: .nan, count: t * ldo), outRef = outFast
            var qs = q, ks = k
            var scores = [Float](repeating: 0, count: t * t)
            lightningBlock(
                state: &kvFast, q: &qs, k: &ks, v: v, ldv: ldv, out: &outFast, ldo: ldo, scores: &scores,
                slope: s, t: t, dk: dk, dv: dv)
            lightningBlockReference(state: &kvRef, q: q, k: k, v: v, ldv: ldv, out: &outRef, ldo: ldo, slope: s, t: t, dk: dk, dv: dv)
            let scale = max(1, outRef.filter { !$0.isNaN }.map(abs).max() ?? 1)
            for i in 0..<t {
                for j in 0..<dv {
                    XCTAssertEqual(outFast[i * ldo + j], outRef[i * ldo + j], accuracy: 1e-4 * scale, "t \(t) dk \(dk) dv \(dv) out[\(i),\(j)]")
                }
            }
            let kvScale = max(1, kvRef.map(abs).max()!)
            for i in 0..<(dk * dv) { XCTAssertEqual(kvFast[i], kvRef[i], accuracy: 1e-4 * kvScale, "t \(t) kv[\(i)]") }
        }
    }

    /// A large decay rate (s = 50: λ^64 = e^−3200) must give zeros, not NaN: every exponent in
    /// the block is relative, so nothing overflows.
    func testLargeDecayUnderflowsToZeroNotNaN() {
        var rng = SplitMix64(seed: 3)
        let t = 64, d = 16
        var kv = rng.floats(d * d)
        var q = rng.floats(t * d), k = rng.floats(t * d)
        let v = rng.floats(t * d)
        var out = [Float](repeating: .nan, count: t * d)
        var scores = [Float](repeating: 0, count: t * t)
        lightningBlock(state: &kv, q: &q, k: &k, v: v, ldv: d, out: &out, ldo: d, scores: &scores, slope: 50, t: t, dk: d, dv: d)
        XCTAssertTrue(out.allSatisfy(\.isFinite))
        XCTAssertTrue(kv.allSatisfy(\.isFinite))
    }
}
