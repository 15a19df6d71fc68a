import RillFormat
import XCTest

/// Quantise → dequantise round trips on random tensors of odd sizes, each element checked
/// against the bound `Formats/rill.md` §6 states for its type:
/// f32 exact; f16 relative error ≤ 2^−11 (values in the f16 normal range);
/// int8 ≤ d/2 with d = max|x|/127; int4 ≤ |d| with d = m/−8, m the element of largest magnitude.
final class QuantizeRoundTripTests: XCTestCase {
    static let colsCases = [1, 31, 33, 95, 257]
    static let rowsCases = [1, 7]

    /// A random `rows × cols` matrix with, where there is room, an all-zero block (row 0,
    /// block 0), a block with one huge value (last row, last block) and a block of tiny but
    /// normal values.
    static func matrix(rows: Int, cols: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        var x = rng.floats(rows * cols, scale: 3)
        let bs = QuantType.blockSize
        for j in 0..<min(bs, cols) { x[j] = 0 }
        if rows > 1 {
            let lastBlock = (cols - 1) / bs * bs
            x[(rows - 1) * cols + lastBlock] = 3e4  // f16 still finite; dwarfs the rest
        }
        if rows > 2 {
            for j in 0..<min(bs, cols) { x[cols + j] *= 1e-3 }
        }
        return x
    }

    /// Quantises with `OwnedTensor` (the converter's path), dequantises every row and checks
    /// each element with `bound(x, blockScale)`.
    func checkRoundTrip(
        _ type: QuantType, seed: UInt64, file: StaticString = #filePath, line: UInt = #line,
        bound: (_ x: Float, _ scale: Float) -> Float
    ) {
        for rows in Self.rowsCases {
            for cols in Self.colsCases {
                let x = Self.matrix(rows: rows, cols: cols, seed: seed &+ UInt64(rows * 1000 + cols))
                let t = OwnedTensor(name: "t", shape: [rows, cols], type: type, values: x)
                var out = [Float](repeating: .nan, count: cols)
                var worst: (Float, Int, Int)? = nil
                for r in 0..<rows {
                    out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(r, into: $0) }
                    for j in 0..<cols {
                        let v = x[r * cols + j]
                        let scale = type.isBlockQuantised ? t.view.block(row: r, block: j / 32).scale : 0
                        let err = abs(v - out[j])
                        if !(err <= bound(v, scale)), worst == nil { worst = (err, r, j) }
                    }
                }
                if let (err, r, j) = worst {
                    XCTFail("\(type) [\(rows), \(cols)]: element (\(r), \(j)) = \(x[r * cols + j]) off by \(err)", file: file, line: line)
                }
            }
        }
    }

    func testF32RoundTripIsExact() {
        checkRoundTrip(.f32, seed: 1) { _, _ in 0 }
    }

    func testF16RoundTripWithinRelativeHalfUlp() {
        checkRoundTrip(.f16, seed: 2) { x, _ in abs(x) * 0x1p-11 + 0x1p-25 }  // absolute term: f16 subnormals
    }

    func testInt8RoundTripWithinHalfStep() {
        // d/2, plus float rounding of q·d (a few ulps of the value).
        checkRoundTrip(.int8, seed: 3) { x, d in d / 2 * (1 + 0x1p-20) + abs(x) * 0x1p-22 }
    }

    func testInt4RoundTripWithinOneStep() {
        checkRoundTrip(.int4, seed: 4) { x, d in abs(d) * (1 + 0x1p-20) + abs(x) * 0x1p-22 }
    }

    func testInt8ScaleIsMaxMagnitudeOver127() {
        let x: [Float] = [0.5, -2.54, 1, 0] + [Float](repeating: 0.25, count: 29)
        let t = OwnedTensor(name: "t", shape: [1, 33], type: .int8, values: x)
        XCTAssertEqual(t.view.block(row: 0, block: 0).scale, Float(2.54) / 127)
        XCTAssertEqual(t.view.block(row: 0, block: 1).scale, Float(0.25) / 127)
    }

    /// The encoder searches scales near d = m / −8 (m the signed element of largest
    /// magnitude) and refits d by least squares: its squared error over the block is never
    /// above the plain rule's (m itself may move: 31 elements of 0.3 outweigh it), and d
    /// keeps the sign opposite to m's.
    func testInt4ScaleSearchIsNoWorseThanThePlainRule() {
        for m: Float in [-5, 5] {
            var x = [Float](repeating: 0.3, count: 32)
            x[17] = m
            let t = OwnedTensor(name: "t", shape: [1, 32], type: .int4, values: x)
            let d = t.view.block(row: 0, block: 0).scale
            XCTAssertEqual(d.sign == m.sign, false, "d = m / −(8 ± …) has the opposite sign of m")
            var out = [Float](repeating: 0, count: 32)
            out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(0, into: $0) }
            let plain = m / -8
            let plainErr = x.map { v -> Float in
                let q = max(-8, min(7, (v / plain).rounded(.toNearestOrEven)))
                return (v - q * plain) * (v - q * plain)
            }.reduce(0, +)
            let err = zip(x, out).map { (a: Float, b: Float) -> Float in (a - b) * (a - b) }.reduce(0, +)
            XCTAssertLessThanOrEqual(err, plainErr * (1 + 1e-5))
        }
    }

    func testAllZeroBlockHasZeroScaleAndDequantisesToZero() {
        for type in [QuantType.int8, .int4] {
            let t = OwnedTensor(name: "t", shape: [2, 40], type: type, values: [Float](repeating: 0, count: 80))
            var out = [Float](repeating: .nan, count: 40)
            for r in 0..<2 {
                out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(r, into: $0) }
                XCTAssertEqual(out, [Float](repeating: 0, count: 40), "\(type)")
            }
            XCTAssertEqual(t.view.block(row: 0, block: 0).scale, 0, "\(type)")
        }
    }

    /// One huge value in a block: the rest of the block rounds to 0, still within the bound,
    /// and neither the block nor its neighbours produce a non-finite value.
    func testBlockWithOneHugeValueStaysFiniteAndWithinBound() {
        var x = [Float](repeating: 0.5, count: 64)
        x[3] = 1e30
        for type in [QuantType.int8, .int4] {
            let t = OwnedTensor(name: "t", shape: [1, 64], type: type, values: x)
            var out = [Float](repeating: .nan, count: 64)
            out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(0, into: $0) }
            XCTAssert(out.allSatisfy(\.isFinite), "\(type)")
            XCTAssertEqual(out[3], 1e30, accuracy: 1e30 * 1e-6, "\(type)")
            XCTAssertEqual(out[40], 0.5, accuracy: 0.5 / 127 + 1e-7, "\(type): the next block is unaffected")
        }
    }

    /// Blocks whose largest magnitude is below about 3.7e−37 (int8) or 2.4e−38 (int4) have a
    /// subnormal d whose reciprocal overflows to infinity; the bound must still hold for these
    /// normal inputs. (Found: x · (1/d) = 0 · ∞ = NaN, and the clamp turns NaN into 127 for
    /// int8 and 15 for int4, so zeros come back as 127 · d and 7 · d.)
    func testInt8RoundTripWithinHalfStepForTinyBlocks() {
        let x: [Float] = [2e-38, 0, 1.5e-38, -2e-38] + [Float](repeating: 0, count: 28)  // all normal floats
        let t = OwnedTensor(name: "t", shape: [1, 32], type: .int8, values: x)
        var out = [Float](repeating: .nan, count: 32)
        out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(0, into: $0) }
        let d = t.view.block(row: 0, block: 0).scale
        let bad = (0..<32).filter { !(abs(x[$0] - out[$0]) <= d / 2 * 1.001) }
        XCTAssertEqual(bad, [], "d = \(d); element \(bad.first ?? 0) = \(x[bad.first ?? 0]) came back as \(out[bad.first ?? 0])")
    }

    func testInt4RoundTripWithinOneStepForTinyBlocks() {
        let x: [Float] = [2e-38, 0, 1.5e-38, -2e-38] + [Float](repeating: 0, count: 28)  // all normal floats
        let t = OwnedTensor(name: "t", shape: [1, 32], type: .int4, values: x)
        var out = [Float](repeating: .nan, count: 32)
        out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(0, into: $0) }
        let d = abs(t.view.block(row: 0, block: 0).scale)
        let bad = (0..<32).filter { !(abs(x[$0] - out[$0]) <= d * 1.001) }
        XCTAssertEqual(bad, [], "|d| = \(d); element \(bad.first ?? 0) = \(x[bad.first ?? 0]) came back as \(out[bad.first ?? 0])")
    }

    // MARK: - int4k

    /// Each element within one step of its block's 16-level grid spanning min(0, lo)…hi, plus
    /// the rounding of the 8-bit codes (D and M, the row's units), on the hostile matrices (a
    /// zero block, a block with a 3e4, a block of tiny values).
    func testInt4KRoundTripWithinOneGridStep() {
        for rows in Self.rowsCases {
            for cols in Self.colsCases {
                let x = Self.matrix(rows: rows, cols: cols, seed: 40 &+ UInt64(rows * 1000 + cols))
                let t = OwnedTensor(name: "t", shape: [rows, cols], type: .int4k, values: x)
                var out = [Float](repeating: .nan, count: cols)
                for r in 0..<rows {
                    out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(r, into: $0) }
                    let rs = t.view.int4KRowScales(row: r)
                    for b in 0..<((cols + 31) / 32) {
                        let range = (b * 32)..<min(cols, b * 32 + 32)
                        let v = range.map { x[r * cols + $0] }
                        let step = (v.max()! - min(0, v.min()!)) / 15
                        for j in range {
                            let err = abs(x[r * cols + j] - out[j])
                            XCTAssertLessThanOrEqual(err, step + rs.d + rs.m + abs(x[r * cols + j]) * 0x1p-20, "[\(rows), \(cols)] (\(r), \(j))")
                        }
                    }
                }
            }
        }
    }

    /// The reason for the type: on random rows of odd widths, int4k's squared error is below
    /// int4's (which stores a f32 scale per block, half a bit a weight more).
    func testInt4KErrorIsBelowInt4s() {
        var rng = SplitMix64(seed: 41)
        for cols in [33, 95, 257, 1000] {
            let rows = 9
            let x = rng.floats(rows * cols)
            func squaredError(_ type: QuantType) -> Double {
                let t = OwnedTensor(name: "t", shape: [rows, cols], type: type, values: x)
                var out = [Float](repeating: 0, count: cols), e = 0.0
                for r in 0..<rows {
                    out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(r, into: $0) }
                    for j in 0..<cols { e += Double(x[r * cols + j] - out[j]) * Double(x[r * cols + j] - out[j]) }
                }
                return e
            }
            XCTAssertLessThan(squaredError(.int4k), squaredError(.int4), "cols \(cols)")
        }
    }

    /// Zero rows: D = M = 0, every element decodes to 0. Constant positive and negative rows
    /// decode within a step.
    func testInt4KZeroAndConstantRows() {
        var x = [Float](repeating: 0, count: 3 * 40)
        for j in 0..<40 { x[40 + j] = 0.75; x[80 + j] = -2 }
        let t = OwnedTensor(name: "t", shape: [3, 40], type: .int4k, values: x)
        XCTAssertEqual(t.view.int4KRowScales(row: 0), Int4KRowScales(d: 0, m: 0))
        var out = [Float](repeating: .nan, count: 40)
        for r in 0..<3 {
            out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(r, into: $0) }
            for j in 0..<40 { XCTAssertEqual(out[j], x[r * 40 + j], accuracy: 2.0 / 15 + 1e-6, "row \(r) element \(j)") }
        }
    }

    /// A block of 1e30 among 0.5s: everything stays finite; the huge block is kept to its step.
    func testInt4KHugeBlockStaysFinite() {
        var x = [Float](repeating: 0.5, count: 64)
        x[3] = 1e30
        let t = OwnedTensor(name: "t", shape: [1, 64], type: .int4k, values: x)
        var out = [Float](repeating: .nan, count: 64)
        out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(0, into: $0) }
        XCTAssert(out.allSatisfy(\.isFinite))
        XCTAssertEqual(out[3], 1e30, accuracy: 1e30 * 1e-6)
    }

    /// The converter encodes int4k rows on every core: each row's bytes are those of
    /// `quantizeRowInt4K` on that row alone.
    func testInt4KTensorEqualsItsRowsEncodedOneByOne() {
        var rng = SplitMix64(seed: 42)
        let rows = 37, cols = 100, nb = 4
        let x = rng.floats(rows * cols)
        let t = OwnedTensor(name: "t", shape: [rows, cols], type: .int4k, values: x)
        var quants = [UInt8](repeating: 0, count: nb * 16), codes = [UInt8](repeating: 0, count: 2 * nb)
        for r in 0..<rows {
            let rs = x.withUnsafeBufferPointer { p in
                quantizeRowInt4K(UnsafeBufferPointer(rebasing: p[(r * cols)..<((r + 1) * cols)]), quants: &quants, codes: &codes)
            }
            XCTAssertEqual(t.view.int4KRowScales(row: r), rs, "row \(r)")
            for b in 0..<nb {
                let at = t.view.layout.blockOffsets(row: r, block: b)
                let stored = (0..<16).map { t.view.base.load(fromByteOffset: at.quants + $0, as: UInt8.self) }
                XCTAssertEqual(stored, Array(quants[(16 * b)..<(16 * b + 16)]), "row \(r) block \(b)")
                XCTAssertEqual(t.view.base.load(fromByteOffset: at.scale, as: UInt8.self), codes[2 * b])
                XCTAssertEqual(t.view.base.load(fromByteOffset: at.scale + 1, as: UInt8.self), codes[2 * b + 1])
            }
        }
    }
}

/// `--calibrate`'s importance weights in the int4k search (`quantizeRowInt4K(…importance:)`).
final class Int4KImportanceTests: XCTestCase {
    static func weightedError(_ t: OwnedTensor, _ x: [Float], _ w: [Float], rows: Int, cols: Int) -> Double {
        var out = [Float](repeating: 0, count: cols), e = 0.0
        for r in 0..<rows {
            out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(r, into: $0) }
            for j in 0..<cols {
                let d = Double(x[r * cols + j] - out[j])
                e += Double(w[j]) * d * d
            }
        }
        return e
    }

    /// Equal weights are the unweighted search: the same bytes.
    func testEqualImportanceGivesTheUnweightedBytes() {
        var rng = SplitMix64(seed: 51)
        for cols in [1, 33, 95, 257] {
            let rows = 5
            let x = rng.floats(rows * cols, scale: 2)
            let plain = OwnedTensor(name: "t", shape: [rows, cols], type: .int4k, values: x)
            let ones = OwnedTensor(name: "t", shape: [rows, cols], type: .int4k, values: x, importance: [Float](repeating: 1, count: cols))
            let n = plain.view.layout.byteCount
            XCTAssertEqual(
                Array(UnsafeRawBufferPointer(start: plain.storage, count: n)),
                Array(UnsafeRawBufferPointer(start: ones.storage, count: n)), "cols \(cols)")
        }
    }

    /// Columns whose activations are large (a few per block, as real activations have) are kept
    /// more exactly: the importance-weighted error, the dot product's expected error, falls
    /// well below the unweighted search's on random rows of odd widths. Other types ignore it.
    func testImportanceLowersTheWeightedError() {
        var rng = SplitMix64(seed: 52)
        for cols in [33, 95, 257, 1000] {
            let rows = 16
            let x = rng.floats(rows * cols)
            // Log-uniform importance over four decades.
            let w = rng.floats(cols).map { Float(pow(10, 2 * Double($0))) }
            let plain = OwnedTensor(name: "t", shape: [rows, cols], type: .int4k, values: x)
            let steered = OwnedTensor(name: "t", shape: [rows, cols], type: .int4k, values: x, importance: w)
            let before = Self.weightedError(plain, x, w, rows: rows, cols: cols)
            let after = Self.weightedError(steered, x, w, rows: rows, cols: cols)
            XCTAssertLessThan(after, 0.8 * before, "cols \(cols): \(after) vs \(before)")
            let int8 = OwnedTensor(name: "t", shape: [rows, cols], type: .int8, values: x, importance: w)
            let int8Plain = OwnedTensor(name: "t", shape: [rows, cols], type: .int8, values: x)
            XCTAssertEqual(
                Array(UnsafeRawBufferPointer(start: int8.storage, count: int8.view.layout.byteCount)),
                Array(UnsafeRawBufferPointer(start: int8Plain.storage, count: int8.view.layout.byteCount)))
        }
    }

    /// Zero importance everywhere (dead inputs) or in whole blocks still encodes finite values
    /// within the plain grid's step.
    func testZeroImportanceBlocksStillEncode() {
        var rng = SplitMix64(seed: 53)
        let cols = 70, rows = 3
        let x = rng.floats(rows * cols, scale: 2)
        for w in [[Float](repeating: 0, count: cols), (0..<cols).map { $0 < 32 ? 0 : 1 }] {
            let t = OwnedTensor(name: "t", shape: [rows, cols], type: .int4k, values: x, importance: w)
            var out = [Float](repeating: .nan, count: cols)
            for r in 0..<rows {
                out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(r, into: $0) }
                for j in 0..<cols {
                    XCTAssert(out[j].isFinite)
                    XCTAssertEqual(out[j], x[r * cols + j], accuracy: 4.0 / 15 * 1.05, "row \(r) column \(j)")
                }
            }
        }
    }
}
