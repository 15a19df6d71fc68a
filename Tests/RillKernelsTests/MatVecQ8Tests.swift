import RillFormat
@testable import RillKernels
import XCTest

final class MatVecQ8Tests: XCTestCase {
    /// Quantises `x` (followed by NaNs, to catch reads past `cols`) into a fresh buffer.
    func quantized(_ x: [Float]) -> ActivationsQ8 {
        let q = ActivationsQ8(maxCols: max(1, x.count))
        let guarded = x + [Float](repeating: .nan, count: 64)
        guarded.withUnsafeBufferPointer { q.quantize($0.baseAddress!, cols: x.count) }
        return q
    }

    func run(_ q8: Bool, _ w: TensorView, _ x: ActivationsQ8) -> [Float] {
        var y = [Float](repeating: .nan, count: w.rows)
        y.withUnsafeMutableBufferPointer { yp in
            if q8 { matVecQ8(w, x, yp.baseAddress!, rows: 0..<w.rows) } else { matVecQ8Reference(w, x, yp.baseAddress!, rows: 0..<w.rows) }
        }
        return y
    }

    /// Every row range, including ranges that start or end inside a group of four stored rows
    /// (and the padded last group), for int8 and int4 with an odd block count (int4's last,
    /// single-block unit): each row as in the whole-matrix call, bit for bit, and nothing
    /// written outside the range.
    func testEveryRowRangeEqualsTheWholeCall() {
        for type in [QuantType.int8, .int4, .int4k] {
            var rng = SplitMix64(seed: 26)
            let rows = 11, cols = 97
            let w = OwnedTensor(name: "w", shape: [rows, cols], type: type, values: rng.floats(rows * cols))
            let x = quantized(rng.floats(cols))
            checkEveryRowRange(rows: rows, all: run(true, w.view, x), "\(type)") { matVecQ8(w.view, x, $1, rows: $0) }
        }
    }

    /// The activation quantiser is the file's int8 quantiser: same quants and scales, bitwise.
    func testQuantizeMatchesReferenceQuantizer() {
        var rng = SplitMix64(seed: 11)
        for cols in oddColumnCounts {
            for scale: Float in [1, 1e4, 1e-3] {
                let x = rng.floats(cols, scale: scale)
                let q = quantized(x)
                let nb = (cols + 31) / 32
                var quants = [Int8](repeating: 0, count: nb * 32), scales = [Float](repeating: 0, count: nb)
                x.withUnsafeBufferPointer { quantizeRowInt8($0, quants: &quants, scales: &scales) }
                XCTAssertEqual(Array(UnsafeBufferPointer(start: q.quants, count: nb * 32)), quants, "cols \(cols) scale \(scale)")
                XCTAssertEqual(Array(UnsafeBufferPointer(start: q.scales, count: nb)), scales, "cols \(cols) scale \(scale)")
            }
        }
    }

    /// Fast against scalar twin on the same quantised activations. Block sums are exact
    /// integers in both; only the float sum over blocks differs. Tolerance:
    /// (blocks + 2) · ε · Σ_b |d_w d_x Σ_i q_w q_x| ≤ (cols + 4) · ε · Σ_j |W x_q| (dequantised).
    func testMatchesReferenceOnOddShapes() {
        var rng = SplitMix64(seed: 12)
        for type in [QuantType.int8, .int4, .int4k] {
            for rows in oddRowCounts {
                for cols in oddColumnCounts {
                    let w = OwnedTensor(name: "w", shape: [rows, cols], type: type, values: rng.floats(rows * cols))
                    let xq = quantized(rng.floats(cols))
                    let xd = (0..<cols).map { Float(xq.quants[$0]) * xq.scales[$0 / 32] }
                    let exact = exactProduct(dequantized(w.view), rows: rows, cols: cols, xd)
                    let yFast = run(true, w.view, xq), yRef = run(false, w.view, xq)
                    for r in 0..<rows {
                        let tol = Double(cols + 4) * eps * exact.magnitude[r]
                        assertClose(yFast[r], Double(yRef[r]), tolerance: tol, "\(type) \(rows)×\(cols) row \(r)")
                        assertClose(yFast[r], exact.value[r], tolerance: tol, "\(type) \(rows)×\(cols) row \(r) vs float64")
                    }
                }
            }
        }
    }

    /// Against the float64 product with the unquantised x: the error adds the rounding of x,
    /// at most Σ_j |W[r,j]| · d_x(j) / 2, to the float rounding bound.
    func testErrorFromActivationRoundingIsBounded() {
        var rng = SplitMix64(seed: 13)
        for type in [QuantType.int8, .int4, .int4k] {
            let rows = 17, cols = 257
            let w = OwnedTensor(name: "w", shape: [rows, cols], type: type, values: rng.floats(rows * cols))
            let x = rng.floats(cols)
            let xq = quantized(x)
            let wd = dequantized(w.view)
            let exact = exactProduct(wd, rows: rows, cols: cols, x)
            let y = run(true, w.view, xq)
            for r in 0..<rows {
                var bound = Double(cols + 4) * eps * exact.magnitude[r] * 1.01
                for j in 0..<cols { bound += abs(Double(wd[r * cols + j])) * Double(xq.scales[j / 32]) / 2 }
                assertClose(y[r], exact.value[r], tolerance: bound, "\(type) row \(r)")
            }
        }
    }

    /// ±∞ or NaN in x makes the rows NaN, as with the float-activation kernel.
    func testNonFiniteActivationsGiveNaN() {
        let w = OwnedTensor(name: "w", shape: [3, 40], type: .int8, values: (0..<120).map { Float($0 % 5) - 2 })
        for bad in [Float.nan, .infinity, -.infinity] {
            var x = [Float](repeating: 0.25, count: 40)
            x[35] = bad
            XCTAssertTrue(run(true, w.view, quantized(x)).allSatisfy { $0.isNaN }, "\(bad)")
        }
    }

    /// A block of tiny values (d below the least normal float) quantises to zeros, not to
    /// garbage from 1/d overflowing.
    func testSubnormalBlockQuantisesToZero() {
        let q = quantized([Float](repeating: Float.leastNormalMagnitude / 1000, count: 32))
        XCTAssertTrue((0..<32).allSatisfy { q.quants[$0] == 0 })
    }
}
