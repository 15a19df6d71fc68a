import RillFormat
import XCTest

/// Draws of the kernels' tests from the shared seeded generator (RillFormat's SplitMix64).
extension SplitMix64 {
    /// Uniform in `[-scale, scale)`.
    mutating func float(_ scale: Float = 1) -> Float {
        let unit: Float = Float(next() >> 40) / Float(1 << 24)  // typed: one expression type-checks slowly on Swift 6.0
        return unit * 2 * scale - scale
    }

    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in float(scale) }
    }
}

/// The odd sizes every kernel is checked on: a single element, one short of a block, one
/// over, several blocks plus a remainder, 8 blocks plus one, and 258 blocks (past the 128 block
/// pairs the x86 int4 kernel prepares on its stack, so its fallback loop runs).
let oddColumnCounts = [1, 31, 33, 97, 257, 8225]
let oddRowCounts = [1, 3, 17]

/// Asserts `|actual − expected| ≤ tolerance`, naming the index.
func assertClose(
    _ actual: Float, _ expected: Double, tolerance: Double, _ what: @autoclosure () -> String,
    file: StaticString = #filePath, line: UInt = #line
) {
    let diff = abs(Double(actual) - expected)
    if !(diff <= tolerance) {
        XCTFail("\(what()): got \(actual), expected \(expected), |diff| \(diff) > \(tolerance)", file: file, line: line)
    }
}

/// Asserts two float arrays are equal bit for bit.
func assertBitwiseEqual(
    _ a: [Float], _ b: [Float], _ what: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(a.count, b.count, what(), file: file, line: line)
    for i in 0..<min(a.count, b.count) where a[i].bitPattern != b[i].bitPattern {
        XCTFail("\(what()): element \(i): \(a[i]) vs \(b[i])", file: file, line: line)
        return
    }
}

/// The dequantised weights of `t`, row-major `rows × cols` (the truth for the quantised kernels).
func dequantized(_ t: TensorView) -> [Float] {
    var out = [Float](repeating: 0, count: t.rows * t.cols)
    out.withUnsafeMutableBufferPointer { o in
        for r in 0..<t.rows {
            t.dequantizeRow(r, into: UnsafeMutableBufferPointer(rebasing: o[(r * t.cols)..<((r + 1) * t.cols)]))
        }
    }
    return out
}

/// `Σ_j W[r, j] · x[j]` in Double and `Σ_j |W[r, j] · x[j]|`, from dequantised weights.
func exactProduct(_ w: [Float], rows: Int, cols: Int, _ x: [Float]) -> (value: [Double], magnitude: [Double]) {
    var value = [Double](repeating: 0, count: rows), magnitude = [Double](repeating: 0, count: rows)
    for r in 0..<rows {
        for j in 0..<cols {
            let p = Double(w[r * cols + j]) * Double(x[j])
            value[r] += p
            magnitude[r] += abs(p)
        }
    }
    return (value, magnitude)
}

/// Float's machine epsilon as Double.
let eps = Double(Float.ulpOfOne)

/// Calls `matVec(rows, y)` for every row range of a `rows`-row matrix, `y` filled with a
/// sentinel: rows in the range must equal `all` (the whole-matrix call) bit for bit, the others
/// keep the sentinel — ranges that start or end inside a stored group of four rows included.
func checkEveryRowRange(rows: Int, all: [Float], _ label: String, matVec: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
    for r0 in 0..<rows {
        for r1 in (r0 + 1)...rows {
            var y = [Float](repeating: -7, count: rows)
            y.withUnsafeMutableBufferPointer { matVec(r0..<r1, $0.baseAddress!) }
            for r in 0..<rows {
                let want = (r0..<r1).contains(r) ? all[r].bitPattern : Float(-7).bitPattern
                XCTAssertEqual(y[r].bitPattern, want, "\(label) rows \(r0)..<\(r1), row \(r)")
            }
        }
    }
}
