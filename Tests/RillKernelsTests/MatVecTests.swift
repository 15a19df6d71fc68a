import RillFormat
@testable import RillKernels
import XCTest

final class MatVecTests: XCTestCase {
    /// Runs `kernel` on `w` and `x` with `x` followed by NaNs, so reading past `cols` shows as
    /// NaN in the result (the padding of the last block is zero, and 0 · NaN is NaN).
    func run(
        _ kernel: (TensorView, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Range<Int>) -> Void,
        _ w: TensorView, _ x: [Float], rows: Range<Int>? = nil, fill: Float = .nan
    ) -> [Float] {
        var guarded = x + [Float](repeating: .nan, count: 64)
        var y = [Float](repeating: fill, count: w.rows)
        guarded.withUnsafeMutableBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                kernel(w, xp.baseAddress!, yp.baseAddress!, rows ?? 0..<w.rows)
            }
        }
        return y
    }

    let fast: (TensorView, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Range<Int>) -> Void = { matVec($0, $1, $2, rows: $3) }
    let reference: (TensorView, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Range<Int>) -> Void = {
        matVecReference($0, $1, $2, rows: $3)
    }

    /// Checks fast against reference and both against the float64 product of the dequantised
    /// weights, for one type over all odd shapes. Tolerance: (cols + 4) · ε · Σ_j |W[r,j] x[j]|,
    /// the worst-case rounding bound of a float sum of cols products plus the scale multiply.
    func checkAgainstReference(_ type: QuantType, scale: Float = 1, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for rows in oddRowCounts {
            for cols in oddColumnCounts {
                let values = rng.floats(rows * cols, scale: scale)
                let x = rng.floats(cols, scale: scale)
                let w = OwnedTensor(name: "w", shape: [rows, cols], type: type, values: values)
                let yFast = run(fast, w.view, x)
                let yRef = run(reference, w.view, x)
                let exact = exactProduct(dequantized(w.view), rows: rows, cols: cols, x)
                for r in 0..<rows {
                    let tol = Double(cols + 4) * eps * exact.magnitude[r]
                    assertClose(yFast[r], Double(yRef[r]), tolerance: 2 * tol, "\(type) \(rows)×\(cols) fast vs reference row \(r)")
                    assertClose(yFast[r], exact.value[r], tolerance: tol, "\(type) \(rows)×\(cols) fast vs float64 row \(r)")
                }
            }
        }
    }

    func testF32MatchesReferenceOnOddShapes() { checkAgainstReference(.f32, seed: 1) }
    func testF16MatchesReferenceOnOddShapes() { checkAgainstReference(.f16, seed: 2) }
    func testInt8MatchesReferenceOnOddShapes() { checkAgainstReference(.int8, seed: 3) }
    func testInt4MatchesReferenceOnOddShapes() { checkAgainstReference(.int4, seed: 4) }
    func testInt4KMatchesReferenceOnOddShapes() { checkAgainstReference(.int4k, seed: 7) }

    /// ±1e4 weights and activations: products of 1e8, sums near 1e10, still well inside Float.
    func testExtremeValuesStayWithinRoundingBound() {
        for type in QuantType.allCases {  // 1e4 is within f16 (max 65504)
            checkAgainstReference(type, scale: 1e4, seed: 5)
        }
    }

    /// A zero row and a zero vector give exactly zero (scales of zero blocks are 0, not NaN).
    func testZeroBlocksGiveExactZeros() {
        for type in QuantType.allCases {
            let cols = 97
            var rng = SplitMix64(seed: 6)
            var values = rng.floats(3 * cols)
            for j in 0..<cols { values[cols + j] = 0 }  // row 1 is all zero
            for j in 64..<96 { values[2 * cols + j] = 0 }  // row 2 has one zero block
            let w = OwnedTensor(name: "w", shape: [3, cols], type: type, values: values)
            let y = run(fast, w.view, rng.floats(cols))
            XCTAssertEqual(y[1], 0, "\(type): zero row")
            XCTAssertTrue(y[2].isFinite, "\(type): a zero block")
            let yZero = run(fast, w.view, [Float](repeating: 0, count: cols))
            XCTAssertEqual(yZero, [0, 0, 0], "\(type): zero vector")
        }
    }

    /// Only `rows` are written: the rest keep their sentinel.
    func testRowSubrangeWritesOnlyThoseRows() {
        for type in QuantType.allCases {
            var rng = SplitMix64(seed: 7)
            let w = OwnedTensor(name: "w", shape: [17, 33], type: type, values: rng.floats(17 * 33))
            let x = rng.floats(33)
            let all = run(fast, w.view, x)
            let part = run(fast, w.view, x, rows: 5..<11, fill: -7)
            for r in 0..<17 {
                if (5..<11).contains(r) {
                    XCTAssertEqual(part[r].bitPattern, all[r].bitPattern, "\(type) row \(r) depends on the range")
                } else {
                    XCTAssertEqual(part[r], -7, "\(type) row \(r) written outside the range")
                }
            }
        }
    }

    /// Each row's result is the same whichever rows it is computed with (parallel == serial
    /// relies on it): every single-row call equals the whole-matrix call bit for bit.
    func testRowResultDoesNotDependOnGrouping() {
        for type in QuantType.allCases {
            var rng = SplitMix64(seed: 8)
            let w = OwnedTensor(name: "w", shape: [17, 97], type: type, values: rng.floats(17 * 97))
            let x = rng.floats(97)
            let all = run(fast, w.view, x)
            for r in 0..<17 {
                XCTAssertEqual(run(fast, w.view, x, rows: r..<(r + 1))[r].bitPattern, all[r].bitPattern, "\(type) row \(r)")
            }
        }
    }

    /// An empty row range writes nothing.
    func testEmptyRangeWritesNothing() {
        let w = OwnedTensor(name: "w", shape: [3, 33], type: .int8, values: [Float](repeating: 1, count: 99))
        XCTAssertEqual(run(fast, w.view, [Float](repeating: 1, count: 33), rows: 2..<2, fill: -1), [-1, -1, -1])
    }

    /// NaN in x propagates to every row; it is not absorbed by a zero scale or the block sum.
    func testNaNInActivationsPropagates() {
        for type in QuantType.allCases {
            let w = OwnedTensor(name: "w", shape: [3, 33], type: type, values: (0..<99).map { Float($0 % 7) - 3 })
            var x = [Float](repeating: 0.5, count: 33)
            x[32] = .nan
            XCTAssertTrue(run(fast, w.view, x).allSatisfy { $0.isNaN }, "\(type)")
        }
    }
}
