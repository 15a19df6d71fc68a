import RillFormat
import RillKernels
import XCTest

final class NormsTests: XCTestCase {
    /// float64 RMSNorm: `w · x / sqrt(mean(x²) + eps)`.
    func exactRMSNorm(_ x: [Float], _ w: [Float]?, eps: Float) -> [Double] {
        let ms = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)
        let r = 1 / (ms + Double(eps)).squareRoot()
        return x.indices.map { Double(w?[$0] ?? 1) * Double(x[$0]) * r }
    }

    func rmsNormOutputs(_ x: [Float], _ w: [Float], eps: Float) -> (fast: [Float], reference: [Float]) {
        var fast = [Float](repeating: .nan, count: x.count), reference = fast
        rmsNorm(x, weight: w, eps: eps, &fast, count: x.count)
        rmsNormReference(x, weight: w, eps: eps, &reference, count: x.count)
        return (fast, reference)
    }

    /// Fast, scalar twin and float64 agree on odd lengths. Tolerance: (n + 8) · ε relative to
    /// |w x| · r — the sum of squares' rounding (n ε) carried through the square root, plus the
    /// final multiplications.
    func testRMSNormMatchesReferenceAndFloat64() {
        var rng = SplitMix64(seed: 31)
        for n in [1, 7, 8, 9, 16, 31, 33, 257, 2048] {
            for scale: Float in [1, 1e4, 1e-3] {
                let x = rng.floats(n, scale: scale), w = rng.floats(n)
                let (fast, reference) = rmsNormOutputs(x, w, eps: 1e-5)
                let exact = exactRMSNorm(x, w, eps: 1e-5)
                for i in 0..<n {
                    let tol = Double(n + 8) * eps * abs(exact[i]) + 1e-30
                    assertClose(fast[i], exact[i], tolerance: tol, "n \(n) scale \(scale) [\(i)] vs float64")
                    assertClose(fast[i], Double(reference[i]), tolerance: 2 * tol, "n \(n) scale \(scale) [\(i)] vs reference")
                }
            }
        }
    }

    /// A zero vector normalises to exact zeros (eps keeps the root finite).
    func testZeroVectorGivesZeros() {
        let (fast, reference) = rmsNormOutputs([Float](repeating: 0, count: 33), [Float](repeating: 2, count: 33), eps: 1e-6)
        XCTAssertEqual(fast, [Float](repeating: 0, count: 33))
        XCTAssertEqual(reference, fast)
    }

    /// Writing over the input gives the out-of-place result.
    func testInPlaceEqualsOutOfPlace() {
        var rng = SplitMix64(seed: 32)
        var x = rng.floats(97)
        let w = rng.floats(97)
        let (fast, _) = rmsNormOutputs(x, w, eps: 1e-5)
        x.withUnsafeMutableBufferPointer { rmsNorm($0.baseAddress!, weight: w, eps: 1e-5, $0.baseAddress!, count: 97) }
        assertBitwiseEqual(x, fast, "in place")
    }

    /// NaN anywhere in x makes every output NaN.
    func testNaNPropagates() {
        var x = [Float](repeating: 1, count: 20)
        x[19] = .nan
        XCTAssertTrue(rmsNormOutputs(x, [Float](repeating: 1, count: 20), eps: 1e-5).fast.allSatisfy { $0.isNaN })
    }

    /// SimpleRMSNorm (no weight) against its twin and float64, same tolerance as RMSNorm.
    func testSimpleRMSNormMatchesReferenceAndFloat64() {
        var rng = SplitMix64(seed: 33)
        for n in [1, 7, 9, 33, 257] {
            let x = rng.floats(n, scale: 3)
            var fast = [Float](repeating: .nan, count: n), reference = fast
            simpleRMSNorm(x, eps: 1e-6, &fast, count: n)
            simpleRMSNormReference(x, eps: 1e-6, &reference, count: n)
            let exact = exactRMSNorm(x, nil, eps: 1e-6)
            for i in 0..<n {
                let tol = Double(n + 8) * eps * abs(exact[i]) + 1e-30
                assertClose(fast[i], exact[i], tolerance: tol, "n \(n) [\(i)]")
                assertClose(fast[i], Double(reference[i]), tolerance: 2 * tol, "n \(n) [\(i)] vs reference")
            }
        }
    }
}
