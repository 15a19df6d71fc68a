import Foundation

/// A read-only view of one stored tensor's bytes (usually inside the file mapping).
///
/// The view does not own its memory: it lives as long as the ``RillFile`` (or buffer) it
/// came from. `base` is 64-byte aligned for tensors read from a file.
public struct TensorView: @unchecked Sendable {
    public let name: String
    public let shape: [Int]
    public let layout: TensorLayout
    public let base: UnsafeRawPointer
    /// What owns the bytes (the file mapping): kept alive as long as the view.
    public let owner: AnyObject?

    public init(name: String, shape: [Int], layout: TensorLayout, base: UnsafeRawPointer, owner: AnyObject? = nil) {
        self.name = name
        self.shape = shape
        self.layout = layout
        self.base = base
        self.owner = owner
    }

    public var type: QuantType { layout.type }
    public var rows: Int { layout.rows }
    public var cols: Int { layout.cols }

    /// f32 elements (type `.f32` only).
    public var f32: UnsafePointer<Float> {
        precondition(type == .f32, "\(name) is \(type), not f32")
        return base.assumingMemoryBound(to: Float.self)
    }

    /// f16 elements (type `.f16` only).
    public var f16: UnsafePointer<Float16> {
        precondition(type == .f16, "\(name) is \(type), not f16")
        return base.assumingMemoryBound(to: Float16.self)
    }

    /// Block `b` of row `r` (block types; `TensorLayout.blockOffsets`): its first quant byte
    /// and its scale, from one offset computation.
    @inlinable
    public func block(row r: Int, block b: Int) -> (quants: UnsafeRawPointer, scale: Float) {
        let at = layout.blockOffsets(row: r, block: b)
        return (base + at.quants, base.load(fromByteOffset: at.scale, as: Float.self))
    }

    /// Block `b` of row `r` of an int4k tensor: its first quant byte, its scale `D·s` and its
    /// minimum `M·m` (a nibble n decodes as `n · scale − min`).
    @inlinable
    public func int4KBlock(row r: Int, block b: Int) -> (quants: UnsafeRawPointer, scale: Float, min: Float) {
        let rs = int4KRowScales(row: r), c = int4KCodes(row: r, block: b)
        return (c.quants, rs.d * Float(c.s), rs.m * Float(c.m))
    }

    /// Block `b` of row `r` of an int4k tensor as stored: its first quant byte, its scale code
    /// and its minimum code.
    @inlinable
    public func int4KCodes(row r: Int, block b: Int) -> (quants: UnsafeRawPointer, s: UInt8, m: UInt8) {
        let at = layout.blockOffsets(row: r, block: b)
        return (base + at.quants, base.load(fromByteOffset: at.scale, as: UInt8.self), base.load(fromByteOffset: at.scale + 1, as: UInt8.self))
    }

    /// Row `r`'s two f32 scales (int4k).
    @inlinable
    public func int4KRowScales(row r: Int) -> Int4KRowScales {
        let head = layout.rowScalesOffset(row: r)
        return Int4KRowScales(d: base.load(fromByteOffset: head, as: Float.self), m: base.load(fromByteOffset: head + 4, as: Float.self))
    }

    /// Dequantises row `r` (all `cols` elements) into `out` — the scalar reference path.
    public func dequantizeRow(_ r: Int, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(r >= 0 && r < rows && out.count >= cols)
        let dst = UnsafeMutableBufferPointer(rebasing: out[0..<cols])
        switch type {
        case .f32:
            for j in 0..<cols { dst[j] = f32[r * cols + j] }
        case .f16:
            for j in 0..<cols { dst[j] = Float(f16[r * cols + j]) }
        case .int4k:
            let bs = QuantType.blockSize, rs = int4KRowScales(row: r)
            for b in 0..<layout.blocksPerRow {
                let at = layout.blockOffsets(row: r, block: b)
                let part = UnsafeMutableBufferPointer(rebasing: dst[(b * bs)..<min(cols, (b + 1) * bs)])
                dequantizeRowInt4K(
                    quants: (base + at.quants).assumingMemoryBound(to: UInt8.self),
                    codes: (base + at.scale).assumingMemoryBound(to: UInt8.self), scales: rs, out: part)
            }
        case .int8, .int4:
            let bs = QuantType.blockSize
            for b in 0..<layout.blocksPerRow {
                let (q, scale) = block(row: r, block: b)
                var d = scale
                let part = UnsafeMutableBufferPointer(rebasing: dst[(b * bs)..<min(cols, (b + 1) * bs)])
                if type == .int8 {
                    dequantizeRowInt8(quants: q.assumingMemoryBound(to: Int8.self), scales: &d, out: part)
                } else {
                    dequantizeRowInt4(quants: q.assumingMemoryBound(to: UInt8.self), scales: &d, out: part)
                }
            }
        }
    }
}

/// A tensor quantised into heap memory: used by the converter and by tests that build
/// weights without a file.
public final class OwnedTensor: @unchecked Sendable {
    public let storage: UnsafeMutableRawPointer
    public let view: TensorView

    /// Quantises `values` (row-major, `shape`) to `type`, int4k steered by `importance` (one
    /// weight per column) when given. Precondition: `values.count` equals the product of `shape`.
    public init(name: String, shape: [Int], type: QuantType, values: [Float], importance: [Float]? = nil) {
        guard let layout = TensorLayout(type: type, shape: shape) else {
            preconditionFailure("bad shape \(shape) for \(name)")
        }
        precondition(values.count == layout.elementCount, "\(name): \(values.count) values for shape \(shape)")
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(layout.byteCount, 1), alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: max(layout.byteCount, 1))
        values.withUnsafeBufferPointer { src in
            writeQuantized(src, layout: layout, into: storage, importance: importance)
        }
        self.storage = storage
        view = TensorView(name: name, shape: shape, layout: layout, base: UnsafeRawPointer(storage))
    }

    deinit { storage.deallocate() }
}

/// Encodes `values` (row-major, `layout.elementCount` floats) into `dst` in `layout`'s type.
/// `dst` must hold `layout.byteCount` bytes and be zeroed where padding is expected.
/// `importance` (`layout.cols` weights) steers int4k's search; the other types ignore it.
public func writeQuantized(
    _ values: UnsafeBufferPointer<Float>, layout: TensorLayout, into dst: UnsafeMutableRawPointer, importance: [Float]? = nil
) {
    precondition(values.count == layout.elementCount)
    precondition(importance == nil || importance!.count == layout.cols, "importance must give one weight per column")
    switch layout.type {
    case .f32:
        dst.copyMemory(from: values.baseAddress!, byteCount: values.count * 4)
    case .f16:
        let p = dst.assumingMemoryBound(to: Float16.self)
        for i in 0..<values.count { p[i] = Float16(values[i]) }
    case .int4k:
        // Its search takes ~5 minutes a billion weights on one core: rows are independent and
        // write disjoint bytes, so slices of rows run on every core (the same bytes whatever
        // the slicing).
        let nb = layout.blocksPerRow, bpb = layout.type.bytesPerBlock, rows = layout.rows
        let slices = min(rows, 4 * ProcessInfo.processInfo.activeProcessorCount)
        let out = UnsafeMutableRawPointer(dst), src = values, weights = importance  // (captured by the workers)
        DispatchQueue.concurrentPerform(iterations: slices) { slice in
            let rowQuants = UnsafeMutablePointer<UInt8>.allocate(capacity: nb * bpb)
            let rowCodes = UnsafeMutablePointer<UInt8>.allocate(capacity: 2 * nb)
            defer { rowQuants.deallocate(); rowCodes.deallocate() }
            for r in (rows * slice / slices)..<(rows * (slice + 1) / slices) {
                let row = UnsafeBufferPointer(rebasing: src[(r * layout.cols)..<((r + 1) * layout.cols)])
                let rs = weights.withUnsafeBufferPointerOrNil { quantizeRowInt4K(row, quants: rowQuants, codes: rowCodes, importance: $0) }
                let head = layout.rowScalesOffset(row: r)
                out.storeBytes(of: rs.d, toByteOffset: head, as: Float.self)
                out.storeBytes(of: rs.m, toByteOffset: head + 4, as: Float.self)
                for b in 0..<nb {
                    let at = layout.blockOffsets(row: r, block: b)
                    (out + at.quants).copyMemory(from: rowQuants + b * bpb, byteCount: bpb)
                    out.storeBytes(of: rowCodes[2 * b], toByteOffset: at.scale, as: UInt8.self)
                    out.storeBytes(of: rowCodes[2 * b + 1], toByteOffset: at.scale + 1, as: UInt8.self)
                }
            }
        }
    case .int8, .int4:
        // Each row into a plain row of blocks and scales, then every block to its place in
        // the grouped layout. Rows past `rows` in the last group stay zero (scale 0).
        let nb = layout.blocksPerRow
        let bpb = layout.type.bytesPerBlock
        let rowQuants = UnsafeMutableRawPointer.allocate(byteCount: nb * bpb, alignment: 64)
        let rowScales = UnsafeMutablePointer<Float>.allocate(capacity: nb)
        defer { rowQuants.deallocate(); rowScales.deallocate() }
        for r in 0..<layout.rows {
            let row = UnsafeBufferPointer(rebasing: values[(r * layout.cols)..<((r + 1) * layout.cols)])
            if layout.type == .int8 {
                quantizeRowInt8(row, quants: rowQuants.assumingMemoryBound(to: Int8.self), scales: rowScales)
            } else {
                quantizeRowInt4(row, quants: rowQuants.assumingMemoryBound(to: UInt8.self), scales: rowScales)
            }
            for b in 0..<nb {
                let at = layout.blockOffsets(row: r, block: b)
                (dst + at.quants).copyMemory(from: rowQuants + b * bpb, byteCount: bpb)
                (dst + at.scale).storeBytes(of: rowScales[b], as: Float.self)
            }
        }
    }
}

extension Optional where Wrapped == [Float] {
    /// The array's buffer, or nil, for the duration of `body`.
    func withUnsafeBufferPointerOrNil<R>(_ body: (UnsafeBufferPointer<Float>?) -> R) -> R {
        switch self {
        case .none: return body(nil)
        case let .some(a): return a.withUnsafeBufferPointer { body($0) }
        }
    }
}
