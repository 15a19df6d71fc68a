import RillFormat
import Foundation
import RillModels
import XCTest

/// The ring buffer against a naive attention over the full history with a window mask.
final class SlidingWindowTests: XCTestCase {
    /// Naive: keep every position's (already rotated) key and value; query p attends to keys
    /// j with p − W + 1 ≤ j ≤ p.
    private func naive(q: [Float], keys: [[Float]], values: [[Float]], p: Int, w: Int, heads: Int, kvHeads: Int, dim: Int) -> [Float] {
        var out = [Float](repeating: 0, count: heads * dim)
        let group = heads / kvHeads
        for h in 0..<heads {
            let kvOff = (h / group) * dim
            let js = Array(max(0, p - w + 1)...p)
            let scores = js.map { j -> Double in
                var s = 0.0
                for c in 0..<dim { s += Double(q[h * dim + c]) * Double(keys[j][kvOff + c]) }
                return s / Double(dim).squareRoot()
            }
            let m = scores.max()!
            let e = scores.map { exp($0 - m) }
            let z = e.reduce(0, +)
            for (n, j) in js.enumerated() {
                for c in 0..<dim { out[h * dim + c] += Float(e[n] / z * Double(values[j][kvOff + c])) }
            }
        }
        return out
    }

    /// Tolerance 1e-5 absolute (values in [−1, 1], f32 softmax). The f16 ring against the same
    /// naive attention over the f16-rounded keys and values: what remains is the order of f32
    /// sums. Head dimensions 6 and 20 take the f16 kernels' scalar tails (20 = 2·8 + 4).
    func testRingMatchesFullHistoryAcrossWrapLengths() {
        let w = 8, heads = 4, kvHeads = 2
        for type in KVCacheType.allCases {
            for dim in [6, 20] {
                for length in [w - 1, w, w + 1, 3 * w + 7] {
                    checkRing(type: type, w: w, heads: heads, kvHeads: kvHeads, dim: dim, length: length)
                }
            }
        }
    }

    private func checkRing(type: KVCacheType, w: Int, heads: Int, kvHeads: Int, dim: Int, length: Int) {
        var rng = SplitMix64(seed: UInt64(length))
        let ring = KVRing(window: w, kvDim: kvHeads * dim, type: type)
        func stored(_ x: [Float]) -> [Float] { type == .f16 ? x.map { Float(Float16($0)) } : x }
        var keys: [[Float]] = [], values: [[Float]] = []
        var scores = [Float](repeating: 0, count: heads * w)
        for p in 0..<length {
            let q = rng.floats(heads * dim), k = rng.floats(kvHeads * dim), v = rng.floats(kvHeads * dim)
            keys.append(stored(k))
            values.append(stored(v))
            ring.write(slot: p % w, key: k, value: v)
            var out = [Float](repeating: .nan, count: heads * dim)
            windowAttention(q: q, ring: ring, position: p, heads: heads, kvHeads: kvHeads, headDim: dim, out: &out, scores: &scores)
            let want = naive(q: q, keys: keys, values: values, p: p, w: w, heads: heads, kvHeads: kvHeads, dim: dim)
            for i in 0..<(heads * dim) {
                XCTAssertEqual(out[i], want[i], accuracy: 1e-5, "\(type) dim \(dim) length \(length) position \(p) [\(i)]")
            }
        }
    }

    /// Heads split into ranges (as the pool splits them, a range ending inside a key/value
    /// group) give the same output as one call over all heads.
    func testHeadRangesMatchTheWholeCall() {
        let w = 16, heads = 6, kvHeads = 2, dim = 10
        var rng = SplitMix64(seed: 7)
        for type in KVCacheType.allCases {
            checkHeadRanges(type: type, w: w, heads: heads, kvHeads: kvHeads, dim: dim, rng: &rng)
        }
    }

    private func checkHeadRanges(type: KVCacheType, w: Int, heads: Int, kvHeads: Int, dim: Int, rng: inout SplitMix64) {
        let ring = KVRing(window: w, kvDim: kvHeads * dim, type: type)
        let kvd = kvHeads * dim
        let keys = rng.floats(w * kvd), values = rng.floats(w * kvd)
        for slot in 0..<w { ring.write(slot: slot, key: Array(keys[(slot * kvd)...]), value: Array(values[(slot * kvd)...])) }
        let q = rng.floats(heads * dim)
        for p in [4, 40] {
            var whole = [Float](repeating: .nan, count: heads * dim), parts = whole
            var scores = [Float](repeating: 0, count: heads * w)
            windowAttention(q: q, ring: ring, position: p, heads: heads, kvHeads: kvHeads, headDim: dim, out: &whole, scores: &scores)
            for range in [0..<2, 2..<5, 5..<6] {
                scores.withUnsafeMutableBufferPointer { s in
                    windowAttention(
                        q: q, ring: ring, position: p, heads: heads, kvHeads: kvHeads, headDim: dim, out: &parts,
                        scores: s.baseAddress! + range.lowerBound * w, headRange: range)
                }
            }
            for i in 0..<(heads * dim) { XCTAssertEqual(parts[i], whole[i], accuracy: 1e-6, "\(type) position \(p) [\(i)]") }
        }
    }

    /// RoPE in the GPT-NeoX layout rotates pairs (i, i + D/2) and keeps the norm.
    func testRoPERotatesHalvesAndKeepsNorm() {
        var rng = SplitMix64(seed: 1)
        let dim = 8
        let inv: [Float] = (0..<(dim / 2)).map { 1 / powf(10000, Float(2 * $0) / Float(dim)) }
        var x = rng.floats(dim)
        let before = x
        applyRoPE(&x, headDim: dim, heads: 1, position: 5, invFreq: inv)
        for i in 0..<(dim / 2) {
            let a = 5 * inv[i]
            XCTAssertEqual(x[i], before[i] * cosf(a) - before[i + dim / 2] * sinf(a), accuracy: 1e-6)
            XCTAssertEqual(x[i + dim / 2], before[i + dim / 2] * cosf(a) + before[i] * sinf(a), accuracy: 1e-6)
        }
        XCTAssertEqual(x.map { $0 * $0 }.reduce(0, +), before.map { $0 * $0 }.reduce(0, +), accuracy: 1e-5)
    }
}
