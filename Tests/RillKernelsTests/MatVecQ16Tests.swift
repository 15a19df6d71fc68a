import RillFormat
@testable import RillKernels
import XCTest

final class MatVecQ16Tests: XCTestCase {
    /// Quantises `x` (followed by NaNs, to catch reads past `cols`) into a fresh buffer.
    func quantized(_ x: [Float]) -> ActivationsQ16 {
        let q = ActivationsQ16(maxCols: max(1, x.count))
        let guarded = x + [Float](repeating: .nan, count: 64)
        guarded.withUnsafeBufferPointer { q.quantize($0.baseAddress!, cols: x.count) }
        return q
    }

    func run(_ fast: Bool, _ w: TensorView, _ x: ActivationsQ16) -> [Float] {
        var y = [Float](repeating: .nan, count: w.rows)
        y.withUnsafeMutableBufferPointer { yp in
            if fast { matVecQ16(w, x, yp.baseAddress!, rows: 0..<w.rows) } else { matVecQ16Reference(w, x, yp.baseAddress!, rows: 0..<w.rows) }
        }
        return y
    }

    /// The quantiser's definition, element by element: d = max|x| / 32767, q = round(x / d),
    /// zero past `cols`; the scale of a partial block comes from its elements only.
    func testQuantizeFollowsDefinition() {
        var rng = SplitMix64(seed: 21)
        for cols in oddColumnCounts {
            for scale: Float in [1, 1e4, 1e-3] {
                let x = rng.floats(cols, scale: scale)
                let q = quantized(x)
                for b in 0..<((cols + 31) / 32) {
                    let block = x[(b * 32)..<min(cols, b * 32 + 32)]
                    let d = block.map { abs($0) }.max()! / 32767
                    XCTAssertEqual(q.scales[b], d, "cols \(cols) block \(b)")
                    for j in 0..<32 {
                        let i = b * 32 + j
                        let expected = i < cols ? Int16((x[i] / d).rounded(.toNearestOrEven)) : 0
                        // x · (1/d) and x / d may round to neighbours at exact halves: allow one step.
                        XCTAssertLessThanOrEqual(abs(Int(q.quants[i]) - Int(expected)), 1, "cols \(cols) element \(i)")
                    }
                }
            }
        }
    }

    /// Fast against scalar twin on the same quantised activations, odd shapes (rows not a
    /// multiple of the 4-row pass, columns not of the block). Block sums are exact integers in
    /// both; only the float sum over blocks differs: (cols + 4) · ε · Σ|terms| bounds it.
    func testMatchesReferenceOnOddShapes() {
        var rng = SplitMix64(seed: 22)
        for rows in oddRowCounts + [4, 8] {
            for cols in oddColumnCounts {
                let w = OwnedTensor(name: "w", shape: [rows, cols], type: .int8, values: rng.floats(rows * cols))
                let xq = quantized(rng.floats(cols))
                let xd = (0..<cols).map { Float(xq.quants[$0]) * xq.scales[$0 / 32] }
                let exact = exactProduct(dequantized(w.view), rows: rows, cols: cols, xd)
                let yFast = run(true, w.view, xq), yRef = run(false, w.view, xq)
                for r in 0..<rows {
                    let tol = Double(cols + 4) * eps * exact.magnitude[r]
                    assertClose(yFast[r], Double(yRef[r]), tolerance: tol, "\(rows)×\(cols) row \(r)")
                    assertClose(yFast[r], exact.value[r], tolerance: tol, "\(rows)×\(cols) row \(r) vs float64")
                }
            }
        }
    }

    /// Extreme weights (±127 everywhere) and activations at full scale: the 32-bit block sums
    /// must not overflow (32 · 127 · 32767 < 2³¹).
    func testExtremeValuesDoNotOverflow() {
        let rows = 5, cols = 64
        let w = OwnedTensor(name: "w", shape: [rows, cols], type: .int8, values: [Float](repeating: -3, count: rows * cols))
        let x = [Float](repeating: -1000, count: cols)
        let y = run(true, w.view, quantized(x))
        for r in 0..<rows { XCTAssertEqual(Double(y[r]), 3000.0 * Double(cols), accuracy: 1e-3 * 3000 * Double(cols)) }
    }

    /// Against the float64 product with the unquantised x, int16 rounding adds at most
    /// Σ_j |W[r,j]| · d_x(j) / 2: tiny next to int8 activations' (×258 larger).
    func testErrorFromActivationRoundingIsBounded() {
        var rng = SplitMix64(seed: 23)
        let rows = 17, cols = 257
        let w = OwnedTensor(name: "w", shape: [rows, cols], type: .int8, values: rng.floats(rows * cols))
        let x = rng.floats(cols)
        let xq = quantized(x)
        let wd = dequantized(w.view)
        let exact = exactProduct(wd, rows: rows, cols: cols, x)
        let y = run(true, w.view, xq)
        for r in 0..<rows {
            var bound = Double(cols + 4) * eps * exact.magnitude[r] * 1.01
            for j in 0..<cols { bound += abs(Double(wd[r * cols + j])) * Double(xq.scales[j / 32]) / 2 }
            assertClose(y[r], exact.value[r], tolerance: bound, "row \(r)")
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

    /// A block of tiny values (d below the least normal float) quantises to zeros.
    func testSubnormalBlockQuantisesToZero() {
        let q = quantized([Float](repeating: Float.leastNormalMagnitude / 1000, count: 32))
        XCTAssertTrue((0..<32).allSatisfy { q.quants[$0] == 0 })
    }

    /// The parallel form is bitwise the serial kernel on the same activations.
    func testParallelEqualsSerial() {
        var rng = SplitMix64(seed: 24)
        let rows = 203, cols = 97
        let w = OwnedTensor(name: "w", shape: [rows, cols], type: .int8, values: rng.floats(rows * cols))
        let x = rng.floats(cols)
        let pool = ThreadPool(threadCount: 3)
        let scratch = ActivationsQ16(maxCols: cols)
        var yPar = [Float](repeating: .nan, count: rows)
        x.withUnsafeBufferPointer { xp in
            yPar.withUnsafeMutableBufferPointer { matVecParallel(pool: pool, w: w.view, x: xp.baseAddress!, y: $0.baseAddress!, scratch: scratch) }
        }
        XCTAssertEqual(yPar, run(true, w.view, quantized(x)))
    }

    /// Every row range, including ranges that start or end inside a group of four stored rows
    /// (and the padded last group): each row as in the whole-matrix call, bit for bit, and
    /// nothing written outside the range.
    func testEveryRowRangeEqualsTheWholeCall() {
        var rng = SplitMix64(seed: 25)
        let rows = 11, cols = 97
        let w = OwnedTensor(name: "w", shape: [rows, cols], type: .int8, values: rng.floats(rows * cols))
        let x = quantized(rng.floats(cols))
        checkEveryRowRange(rows: rows, all: run(true, w.view, x), "int8") { matVecQ16(w.view, x, $1, rows: $0) }
    }

    func testKernelISAIsNamed() {
        XCTAssertTrue(["avx512vnni", "avxvnni", "avx2", "neon-dotprod", "neon", "scalar"].contains(integerKernelISA), integerKernelISA)
    }
}
