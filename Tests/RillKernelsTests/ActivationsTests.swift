import RillFormat
import RealModule
@testable import RillKernels
import XCTest

final class ActivationsTests: XCTestCase {
    /// vexp against libm over the whole range, 0.01 apart. Normal results: within 2 ulp of
    /// Float.exp (itself correctly rounded to < 1 ulp). Subnormal results: within 2 of the least
    /// subnormal (they carry fewer bits).
    func testVectorExpMatchesLibm() {
        var x: Float = -110
        while x < 90 {
            let xs = SIMD8<Float>((0..<8).map { x + Float($0) * 0.01 })
            let got = vexp(xs)
            for i in 0..<8 {
                let expected = Float.exp(xs[i])
                if expected.isInfinite {
                    XCTAssertEqual(got[i], .infinity, "exp(\(xs[i]))")
                } else if expected >= .leastNormalMagnitude {
                    assertClose(got[i], Double(expected), tolerance: 2 * Double(expected.ulp), "exp(\(xs[i]))")
                } else {
                    assertClose(got[i], Double(expected), tolerance: 2 * Double(Float.leastNonzeroMagnitude), "exp(\(xs[i]))")
                }
            }
            x += 0.08
        }
    }

    /// exp(0) = 1 exactly, exp(−∞) = 0, exp(+∞) = +∞, exp(NaN) = NaN.
    func testVectorExpSpecialValues() {
        let got = vexp(SIMD8<Float>(0, -.infinity, .infinity, .nan, 88.7, 89, -104, -1e30))
        XCTAssertEqual(got[0], 1)
        XCTAssertEqual(got[1], 0)
        XCTAssertEqual(got[2], .infinity)
        XCTAssertTrue(got[3].isNaN)
        XCTAssertTrue(got[4].isFinite && got[4] > 3e38, "exp(88.7) is finite, \(got[4])")
        XCTAssertEqual(got[5], .infinity)
        XCTAssertTrue(got[6] <= .leastNonzeroMagnitude)
        XCTAssertEqual(got[7], 0)
    }

    /// softmax against a float64 softmax on odd lengths (rows of attention scores up to 4,099
    /// keys), scores spread narrowly and widely, rows with -∞ (masked) entries: every
    /// probability within 1e-5 relative (the sum of thousands of floats in 8 lanes; the f32
    /// twin, summing one lane, is off by as much), plus 1e-12 absolute; the row sums to 1.
    func testSoftmaxMatchesReference() {
        var rng = SplitMix64(seed: 43)
        for n in [1, 2, 7, 8, 9, 31, 33, 257, 4099] {
            for scale: Float in [0.1, 5, 60] {
                var x = rng.floats(n, scale: scale)
                if n > 3 && scale == 5 { x[1] = -.infinity; x[n - 1] = -.infinity }
                var fast = x, twin = x
                softmaxInPlace(&fast, count: n)
                softmaxReference(&twin, count: n)
                let m = Double(x.max()!)
                let e = x.map { exp(Double($0) - m) }, total = e.reduce(0, +)
                var sum = 0.0
                for i in 0..<n {
                    let want = e[i] / total
                    assertClose(fast[i], want, tolerance: 1e-5 * want + 1e-12, "n \(n) scale \(scale) element \(i)")
                    assertClose(twin[i], want, tolerance: 1e-5 * want + 1e-12, "twin, n \(n) scale \(scale) element \(i)")
                    sum += Double(fast[i])
                }
                XCTAssertEqual(sum, 1, accuracy: 1e-5, "n \(n)")
            }
        }
    }

    /// SiLU against its scalar twin on odd lengths and a wide range: within 4 ulp (2 from
    /// vexp, the rest from the division), plus the least subnormal for results near zero.
    func testSiLUMatchesReference() {
        var rng = SplitMix64(seed: 41)
        for n in [1, 7, 8, 9, 31, 33, 257] {
            for scale: Float in [1, 30, 1e4] {
                let x = rng.floats(n, scale: scale)
                var fast = [Float](repeating: .nan, count: n), reference = fast
                silu(x, &fast, count: n)
                siluReference(x, &reference, count: n)
                for i in 0..<n {
                    assertClose(fast[i], Double(reference[i]), tolerance: 4 * Double(reference[i].ulp) + Double(Float.leastNonzeroMagnitude),
                                "silu(\(x[i]))")
                }
            }
        }
    }

    /// Large inputs: silu(−1e4) is −0 (as PyTorch), silu(1e4) = 1e4; NaN stays NaN.
    func testSiLUEdgeValues() {
        var v: [Float] = [-1e4, 1e4, .nan, 0]
        silu(&v, count: 4)
        XCTAssertEqual(v[0], 0)
        XCTAssertEqual(v[1], 1e4)
        XCTAssertTrue(v[2].isNaN)
        XCTAssertEqual(v[3], 0)
    }

    /// A value's SiLU does not depend on its position (vector body or padded tail), so splits
    /// of a range across threads give the same bits.
    func testSiLUIsPositionIndependent() {
        var rng = SplitMix64(seed: 42)
        let x = rng.floats(37, scale: 5)
        var whole = [Float](repeating: 0, count: 37)
        silu(x, &whole, count: 37)
        for start in [1, 3, 8, 30] {
            var part = [Float](repeating: 0, count: 37 - start)
            x.withUnsafeBufferPointer { silu($0.baseAddress! + start, &part, count: 37 - start) }
            assertBitwiseEqual(part, Array(whole[start...]), "from \(start)")
        }
    }

    /// PyTorch's softplus: x above the threshold 20 passes through; at and below it,
    /// log1p(exp(x)) (checked in float64 to 2 ulp); very negative x gives ≈ e^x.
    func testSoftplusMatchesTorchDefinition() {
        let xs: [Float] = [-100, -20, -1, 0, 0.5, 1, 10, 19.99, 20, 20.01, 50, 1e4]
        var out = [Float](repeating: .nan, count: xs.count)
        softplus(xs, &out, count: xs.count)
        for (i, x) in xs.enumerated() {
            let expected = x > 20 ? Double(x) : Double.log(onePlus: Double.exp(Double(x)))
            assertClose(out[i], expected, tolerance: 2 * Double(Float(expected).ulp), "softplus(\(x))")
        }
        XCTAssertEqual(out[9], 20.01, "above the threshold: x itself")
        XCTAssertTrue(softplus(.nan).isNaN)
        XCTAssertEqual(softplus(-.infinity), 0)
    }

    /// The vector softplus against float64 on random inputs over its whole range, odd counts
    /// (the padded tail), the branch point of its log1p (e^(−|x|) = √2 − 1) and the edges.
    func testVectorSoftplusWithinFourUlpOfFloat64() {
        var rng = SplitMix64(seed: 44)
        for n in [1, 7, 8, 9, 31, 1_003] {
            var xs = rng.floats(n, scale: 30)
            xs += [-0.881_373_6, -0.881_373_5, 0.881_373_6, 1e-8, -1e-8, -87, -95, -104, -200, 88, 20, 20.000_002, 19.999_998]
            var out = [Float](repeating: .nan, count: xs.count)
            softplus(xs, &out, count: xs.count)
            for (i, x) in xs.enumerated() {
                let expected = x > 20 ? Double(x) : Double.log(onePlus: Double.exp(Double(x)))
                // Below the normal range the tolerance is the least normal's ulp (vexp's floor).
                let ulp = max(Double(Float(expected).ulp), Double(Float.leastNormalMagnitude.ulp))
                assertClose(out[i], expected, tolerance: 4 * ulp, "softplus(\(x)) n \(n)")
            }
        }
        var edges: [Float] = [.nan, -.infinity, .infinity, 0, -0.0]
        softplus(edges, &edges, count: edges.count)
        XCTAssertTrue(edges[0].isNaN)
        XCTAssertEqual(edges[1], 0)
        XCTAssertEqual(edges[2], .infinity)
        XCTAssertEqual(edges[3], Float(Double.log(2.0)), accuracy: Float(Double.log(2.0)).ulp)
        XCTAssertEqual(edges[4], Float(Double.log(2.0)), accuracy: Float(Double.log(2.0)).ulp)
    }

    /// mul, add and axpy equal the element-wise scalar expressions bit for bit.
    func testArithmeticMatchesScalar() {
        var rng = SplitMix64(seed: 43)
        for n in [0, 1, 7, 8, 9, 33, 257] {
            let a = rng.floats(n, scale: 100), b = rng.floats(n, scale: 100)
            var out = [Float](repeating: .nan, count: n)
            mul(a, b, &out, count: n)
            assertBitwiseEqual(out, zip(a, b).map { $0 * $1 }, "mul n \(n)")
            add(a, b, &out, count: n)
            assertBitwiseEqual(out, zip(a, b).map { $0 + $1 }, "add n \(n)")
            var y = b
            axpy(0.37, a, &y, count: n)
            assertBitwiseEqual(y, zip(a, b).map { $1 + 0.37 * $0 }, "axpy n \(n)")
        }
    }
}
