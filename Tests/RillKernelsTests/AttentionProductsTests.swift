import RillFormat
import RillKernels
import XCTest

/// The attention products over f16 and f32 keys and values against plain double-precision
/// loops, on sizes that are not multiples of the 8 lanes or of the 4 query rows a pass takes,
/// with row strides wider than the head (as in a ring holding several key/value heads), and
/// key counts beyond the 64-row blocks the value product takes.
final class AttentionProductsTests: XCTestCase {
    private let scale: Float = 0.37

    func testKeyScoresAndWeightedValuesMatchScalarLoops() {
        var rng = SplitMix64(seed: 41)
        // n 130: two blocks of 64 value rows and a remainder; dim 31: the 16-, 8- and 1-lane
        // loops all run.
        for dim in [1, 7, 8, 20, 31, 64] {
            for m in [1, 3, 4, 5, 9] {
                for n in [1, 5, 33, 130] {
                    let ld = dim + 3
                    let q = rng.floats(m * dim)
                    let keys = rng.floats(n * ld).map { Float16($0) }, values = rng.floats(n * ld).map { Float16($0) }
                    let weights = rng.floats(m * n)
                    check(q: q, keys: keys.map(Float.init), values: values.map(Float.init), weights: weights, dim: dim, m: m, n: n, ld: ld) {
                        halfKeyScores(q: q, rows: m, dim: dim, keys: keys, ldk: ld, count: n, scale: scale, scores: $0)
                        halfWeightedValues(weights: weights, rows: m, count: n, values: values, ldv: ld, dim: dim, out: $1)
                    }
                    let keys32 = rng.floats(n * ld), values32 = rng.floats(n * ld)
                    check(q: q, keys: keys32, values: values32, weights: weights, dim: dim, m: m, n: n, ld: ld) {
                        keyScores(q: q, rows: m, dim: dim, keys: keys32, ldk: ld, count: n, scale: scale, scores: $0)
                        weightedValues(weights: weights, rows: m, count: n, values: values32, ldv: ld, dim: dim, out: $1)
                    }
                }
            }
        }
    }

    /// `run` fills scores (with `scale`) and outputs; checked against double loops over `keys`
    /// and `values` (the stored values, as floats).
    private func check(
        q: [Float], keys: [Float], values: [Float], weights: [Float], dim: Int, m: Int, n: Int, ld: Int,
        run: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) {
        var scores = [Float](repeating: .nan, count: m * n), out = [Float](repeating: .nan, count: m * dim)
        scores.withUnsafeMutableBufferPointer { s in out.withUnsafeMutableBufferPointer { o in run(s.baseAddress!, o.baseAddress!) } }
        for r in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for c in 0..<dim { s += Double(q[r * dim + c]) * Double(keys[j * ld + c]) }
                XCTAssertEqual(scores[r * n + j], Float(s) * scale, accuracy: 1e-5, "scores dim \(dim) m \(m) n \(n) [\(r), \(j)]")
            }
        }
        for r in 0..<m {
            for c in 0..<dim {
                var s = 0.0
                for j in 0..<n { s += Double(weights[r * n + j]) * Double(values[j * ld + c]) }
                XCTAssertEqual(out[r * dim + c], Float(s), accuracy: 1e-5, "values dim \(dim) m \(m) n \(n) [\(r), \(c)]")
            }
        }
    }

    /// Rounding to f16 is Swift's `Float16(_:)`: to nearest, ties to even, ±∞ beyond ±65504.
    func testNarrowToHalfRoundsToNearest() {
        let x: [Float] = [0, 1, -2.5, 1 + 1 / 2048, 1 + 3 / 2048, 65504, 70000, -1e9, .nan]
        var out = [Float16](repeating: 0, count: x.count)
        narrowToHalf(x, &out, count: x.count)
        XCTAssertEqual(out[0], 0)
        XCTAssertEqual(out[1], 1)
        XCTAssertEqual(out[2], -2.5)
        XCTAssertEqual(out[3], 1)                 // halfway to the next half: even wins
        XCTAssertEqual(out[4], 1 + 4 / 2048)      // halfway between 1+2/2048 and 1+4/2048: even
        XCTAssertEqual(out[5], 65504)
        XCTAssertEqual(out[6], .infinity)
        XCTAssertEqual(out[7], -.infinity)
        XCTAssertTrue(out[8].isNaN)
    }
}
