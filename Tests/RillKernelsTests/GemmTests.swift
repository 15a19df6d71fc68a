import RillFormat
import RillKernels
import XCTest

final class GemmTests: XCTestCase {
    /// The wrapper's row-major, transpose and leading-dimension conventions, against a naive
    /// float64 product. Tolerance: (k + 2) · ε · Σ |a b| per output.
    func testSgemmMatchesNaiveProduct() {
        var rng = SplitMix64(seed: 200)
        let (m, n, k) = (5, 7, 33)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2
            let a = rng.floats((ta ? k : m) * lda), b = rng.floats((tb ? n : k) * ldb)
            var c = [Float](repeating: 7, count: m * ldc)
            sgemm(m: m, n: n, k: k, a: a, lda: lda, transposeA: ta, b: b, ldb: ldb, transposeB: tb, c: &c, ldc: ldc)
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0, mag = 0.0
                    for l in 0..<k {
                        let av = Double(ta ? a[l * lda + i] : a[i * lda + l]), bv = Double(tb ? b[j * ldb + l] : b[l * ldb + j])
                        s += av * bv
                        mag += abs(av * bv)
                    }
                    assertClose(c[i * ldc + j], s, tolerance: Double(k + 2) * eps * mag, "transA \(ta) transB \(tb) [\(i), \(j)]")
                }
                XCTAssertEqual(c[i * ldc + n], 7, "padding of C row \(i) written")
            }
        }
    }

    /// Fast dequantisation equals `TensorView.dequantizeRow` bit for bit, for odd widths (the
    /// partial last block must not spill into the next row).
    func testDequantizeRowsMatchesTensorView() {
        var rng = SplitMix64(seed: 201)
        for type in QuantType.allCases {
            for cols in oddColumnCounts {
                let w = OwnedTensor(name: "w", shape: [5, cols], type: type, values: rng.floats(5 * cols, scale: 3))
                var out = [Float](repeating: .nan, count: 3 * cols + 1)
                dequantizeRows(w.view, rows: 1..<4, into: &out)
                assertBitwiseEqual(Array(out[0..<(3 * cols)]), Array(dequantized(w.view)[cols..<(4 * cols)]), "\(type) cols \(cols)")
                XCTAssertTrue(out[3 * cols].isNaN, "\(type) cols \(cols): wrote past the rows")
            }
        }
    }

    /// The tiled product against the scalar reference for every type, tile sizes that do and
    /// do not divide the rows, and 1–5 tokens. Tolerance: (cols + 2) · ε · Σ |x w| per output
    /// (both sum cols products in float, in different orders; the weights are the same floats).
    func testTiledProductMatchesReference() {
        var rng = SplitMix64(seed: 202)
        for type in QuantType.allCases {
            for (rows, cols) in [(17, 33), (40, 97), (3, 257)] {
                let w = OwnedTensor(name: "w", shape: [rows, cols], type: type, values: rng.floats(rows * cols))
                let wd = dequantized(w.view)
                for tokens in [1, 3, 5] {
                    let x = rng.floats(tokens * cols)
                    var reference = [Float](repeating: .nan, count: tokens * rows)
                    var rowBuffer = [Float](repeating: 0, count: cols)
                    rowBuffer.withUnsafeMutableBufferPointer { gemmReference(x: x, tokens: tokens, w: w.view, y: &reference, rowBuffer: $0) }
                    for tileRows in [1, 4, 64] {
                        let count = sgemmScratchCount(cols: cols, tileRows: tileRows)
                        var scratch = [Float](repeating: 0, count: count)
                        var y = [Float](repeating: .nan, count: tokens * rows)
                        sgemmTiledQuantized(x: x, tokens: tokens, w: w.view, y: &y, tileRows: tileRows,
                                            scratch: &scratch, scratchCount: count)
                        for t in 0..<tokens {
                            for r in 0..<rows {
                                var mag = 0.0
                                for j in 0..<cols { mag += abs(Double(x[t * cols + j]) * Double(wd[r * cols + j])) }
                                assertClose(y[t * rows + r], Double(reference[t * rows + r]), tolerance: Double(cols + 2) * eps * mag,
                                            "\(type) \(rows)×\(cols) tokens \(tokens) tile \(tileRows) [\(t), \(r)]")
                            }
                        }
                    }
                }
            }
        }
    }

    /// Strided X and Y (a slice of a wider buffer) read and write only their columns.
    func testTiledProductHonoursStrides() {
        var rng = SplitMix64(seed: 203)
        let (rows, cols, tokens) = (9, 40, 3)
        let w = OwnedTensor(name: "w", shape: [rows, cols], type: .int4, values: rng.floats(rows * cols))
        let ldx = cols + 5, ldy = rows + 4
        let xWide = rng.floats(tokens * ldx)
        let x = (0..<tokens).flatMap { xWide[($0 * ldx)..<($0 * ldx + cols)] }
        var dense = [Float](repeating: 0, count: tokens * rows), wide = [Float](repeating: -3, count: tokens * ldy)
        var scratch = [Float](repeating: 0, count: sgemmScratchCount(cols: cols, tileRows: 4))
        let count = scratch.count
        sgemmTiledQuantized(x: x, tokens: tokens, w: w.view, y: &dense, tileRows: 4, scratch: &scratch, scratchCount: count)
        sgemmTiledQuantized(x: xWide, ldx: ldx, tokens: tokens, w: w.view, y: &wide, ldy: ldy, tileRows: 4,
                            scratch: &scratch, scratchCount: count)
        for t in 0..<tokens {
            assertBitwiseEqual(Array(wide[(t * ldy)..<(t * ldy + rows)]), Array(dense[(t * rows)..<((t + 1) * rows)]), "token \(t)")
            XCTAssertEqual(Array(wide[(t * ldy + rows)..<((t + 1) * ldy)]), [-3, -3, -3, -3], "token \(t) padding")
        }
    }

    /// The BLAS thread count setter reaches OpenBLAS.
    func testSetBLASThreadCount() {
        let before = blasThreadCount()
        setBLASThreadCount(1)
        XCTAssertEqual(blasThreadCount(), 1)
        setBLASThreadCount(before)
    }
}
