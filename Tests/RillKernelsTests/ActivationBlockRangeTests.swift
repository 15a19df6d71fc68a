import RillFormat
import RillKernels
import XCTest

/// The two quantised-activation buffers, as far as block-range quantisation goes.
protocol BlockQuantisedActivations: AnyObject {
    init(maxCols: Int)
    var cols: Int { get }
    func quantize(_ x: UnsafePointer<Float>, cols: Int)
    func begin(cols: Int)
    func quantizeBlocks(_ x: UnsafePointer<Float>, _ blocks: Range<Int>)
    /// Scales and quants of the first `blocks` blocks.
    func contents(blocks: Int) -> (scales: [Float], quants: [Int])
}

extension ActivationsQ8: BlockQuantisedActivations {
    func contents(blocks: Int) -> (scales: [Float], quants: [Int]) {
        (Array(UnsafeBufferPointer(start: scales, count: blocks)), UnsafeBufferPointer(start: quants, count: blocks * 32).map(Int.init))
    }
}

extension ActivationsQ16: BlockQuantisedActivations {
    func contents(blocks: Int) -> (scales: [Float], quants: [Int]) {
        (Array(UnsafeBufferPointer(start: scales, count: blocks)), UnsafeBufferPointer(start: quants, count: blocks * 32).map(Int.init))
    }
}

final class ActivationBlockRangeTests: XCTestCase {
    /// Quantising block ranges one call each (as the fused decode tasks do, each on its own
    /// channels) gives the bits of one whole-vector quantisation, partial last block included.
    func testBlockRangesEqualWholeQuantisation() {
        check(ActivationsQ8.self)
        check(ActivationsQ16.self)
    }

    private func check<A: BlockQuantisedActivations>(_ type: A.Type) {
        var rng = SplitMix64(seed: 29)
        for cols in [1, 31, 33, 100, 257] {
            let x = rng.floats(cols, scale: 3)
            let whole = A(maxCols: cols), parts = A(maxCols: cols)
            let nb = (cols + 31) / 32
            // NaNs past `cols` catch reads beyond the vector.
            let guarded = x + [Float](repeating: .nan, count: 64)
            guarded.withUnsafeBufferPointer { p in
                whole.quantize(p.baseAddress!, cols: cols)
                parts.begin(cols: cols)
                var b = 0
                while b < nb {
                    let end = min(nb, b + 1 + b % 2)  // ranges of 1 and 2 blocks
                    parts.quantizeBlocks(p.baseAddress!, b..<end)
                    b = end
                }
            }
            XCTAssertEqual(parts.cols, cols)
            let a = parts.contents(blocks: nb), w = whole.contents(blocks: nb)
            XCTAssertEqual(a.scales, w.scales, "\(A.self) cols \(cols)")
            XCTAssertEqual(a.quants, w.quants, "\(A.self) cols \(cols)")
        }
    }
}
