import RillFormat
import RillKernels
import XCTest

final class ActivationBlockRangeTests: XCTestCase {
    /// Quantising block ranges one call each (as the fused decode tasks do, each on its own
    /// channels) gives the bits of one whole-vector quantisation, partial last block included.
    func testBlockRangesEqualWholeQuantisation() {
        check(ActivationsQ8.self)
        check(ActivationsQ16.self)
    }

    private func check<Q: ActivationQuant>(_ type: QuantisedActivations<Q>.Type) {
        var rng = SplitMix64(seed: 29)
        for cols in [1, 31, 33, 100, 257] {
            let x = rng.floats(cols, scale: 3)
            let whole = QuantisedActivations<Q>(maxCols: cols), parts = QuantisedActivations<Q>(maxCols: cols)
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
            let a = contents(parts, blocks: nb), w = contents(whole, blocks: nb)
            XCTAssertEqual(a.scales, w.scales, "\(Q.self) cols \(cols)")
            XCTAssertEqual(a.quants, w.quants, "\(Q.self) cols \(cols)")
        }
    }

    /// Scales and quants of the first `blocks` blocks.
    private func contents<Q>(_ a: QuantisedActivations<Q>, blocks: Int) -> (scales: [Float], quants: [Int]) {
        (Array(UnsafeBufferPointer(start: a.scales, count: blocks)), UnsafeBufferPointer(start: a.quants, count: blocks * 32).map(Int.init))
    }
}
