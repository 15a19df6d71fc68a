import RillFormat

/// How activations are quantised to blocks of 32 for an integer mat-vec.
public protocol ActivationQuant {
    associatedtype Element: FixedWidthInteger
    /// Quantises `x[0..<count]` into `ceil(count / 32)` blocks: quants (zero past `count` up to
    /// the block end) and one scale each, reading nothing past `count`. A block whose scale is
    /// below `Float.leastNormalMagnitude` quantises to zeros; a block holding ±∞ or NaN gets a
    /// NaN scale, so every row's result is NaN, as with ``matVec(_:_:_:rows:)``.
    static func quantize(
        _ x: UnsafePointer<Float>, count: Int, quants: UnsafeMutablePointer<Element>, scales: UnsafeMutablePointer<Float>)
}

/// Activations quantised to integer blocks of 32, owned here, allocated once for up to
/// `maxCols` elements: `x[j] ≈ quants[j] · scales[j / 32]`, `quants` zero past `cols`.
public final class QuantisedActivations<Q: ActivationQuant>: @unchecked Sendable {
    /// Largest `cols` this buffer holds.
    public let maxCols: Int
    /// Elements quantised by the last ``quantize(_:cols:)`` or ``begin(cols:)``.
    public private(set) var cols: Int = 0
    /// `ceil(maxCols / 32) · 32` quants, 64-byte aligned.
    public let quants: UnsafeMutablePointer<Q.Element>
    /// `ceil(maxCols / 32)` scales.
    public let scales: UnsafeMutablePointer<Float>

    public init(maxCols: Int) {
        precondition(maxCols > 0)
        self.maxCols = maxCols
        let nb = (maxCols + QuantType.blockSize - 1) / QuantType.blockSize
        quants = UnsafeMutableRawPointer.allocate(byteCount: nb * QuantType.blockSize * MemoryLayout<Q.Element>.stride, alignment: 64)
            .bindMemory(to: Q.Element.self, capacity: nb * QuantType.blockSize)
        quants.initialize(repeating: 0, count: nb * QuantType.blockSize)
        scales = .allocate(capacity: nb)
        scales.initialize(repeating: 0, count: nb)
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
    }

    /// Quantises `x[0..<cols]` (see ``ActivationQuant/quantize(_:count:quants:scales:)``).
    public func quantize(_ x: UnsafePointer<Float>, cols: Int) {
        begin(cols: cols)
        Q.quantize(x, count: cols, quants: quants, scales: scales)
    }

    /// Starts a quantisation of `cols` elements that tasks complete with ``quantizeBlocks(_:_:)``
    /// (each on its own blocks), so that the layer step producing `x` can quantise it too.
    /// Call on the thread that then runs the mat-vec, before the tasks.
    public func begin(cols: Int) {
        precondition(cols > 0 && cols <= maxCols, "cols \(cols) outside 1...\(maxCols)")
        self.cols = cols
    }

    /// Quantises the blocks `blocks` of `x` (elements `32·b ..< min(cols, 32·b + 32)`) as
    /// ``quantize(_:cols:)`` does, with the `cols` of the last ``begin(cols:)``. Tasks on
    /// disjoint block ranges may run at once: each writes only its blocks.
    public func quantizeBlocks(_ x: UnsafePointer<Float>, _ blocks: Range<Int>) {
        let bs = QuantType.blockSize
        precondition(blocks.lowerBound >= 0 && blocks.upperBound <= (cols + bs - 1) / bs, "blocks \(blocks) past \(cols) elements")
        if blocks.isEmpty { return }
        let first = blocks.lowerBound * bs
        Q.quantize(x + first, count: min(cols, blocks.upperBound * bs) - first, quants: quants + first, scales: scales + blocks.lowerBound)
    }
}
