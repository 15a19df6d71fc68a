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

    /// First quant byte of the block types; row `r` starts at `r · blocksPerRow · bytesPerBlock`.
    public var quants: UnsafeRawPointer { base }

    /// Block scales of the block types; row `r` starts at `r · blocksPerRow`.
    public var scales: UnsafePointer<Float> {
        (base + layout.scalesOffset).assumingMemoryBound(to: Float.self)
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
        case .int8:
            let nb = layout.blocksPerRow
            dequantizeRowInt8(
                quants: (quants + r * nb * type.bytesPerBlock).assumingMemoryBound(to: Int8.self),
                scales: scales + r * nb, out: dst)
        case .int4:
            let nb = layout.blocksPerRow
            dequantizeRowInt4(
                quants: (quants + r * nb * type.bytesPerBlock).assumingMemoryBound(to: UInt8.self),
                scales: scales + r * nb, out: dst)
        }
    }
}

/// A tensor quantised into heap memory: used by the converter and by tests that build
/// weights without a file.
public final class OwnedTensor: @unchecked Sendable {
    public let storage: UnsafeMutableRawPointer
    public let view: TensorView

    /// Quantises `values` (row-major, `shape`) to `type`. Precondition: `values.count` equals
    /// the product of `shape`.
    public init(name: String, shape: [Int], type: QuantType, values: [Float]) {
        guard let layout = TensorLayout(type: type, shape: shape) else {
            preconditionFailure("bad shape \(shape) for \(name)")
        }
        precondition(values.count == layout.elementCount, "\(name): \(values.count) values for shape \(shape)")
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(layout.byteCount, 1), alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0, count: max(layout.byteCount, 1))
        values.withUnsafeBufferPointer { src in
            writeQuantized(src, layout: layout, into: storage)
        }
        self.storage = storage
        view = TensorView(name: name, shape: shape, layout: layout, base: UnsafeRawPointer(storage))
    }

    deinit { storage.deallocate() }
}

/// Encodes `values` (row-major, `layout.elementCount` floats) into `dst` in `layout`'s type.
/// `dst` must hold `layout.byteCount` bytes and be zeroed where padding is expected.
public func writeQuantized(_ values: UnsafeBufferPointer<Float>, layout: TensorLayout, into dst: UnsafeMutableRawPointer) {
    precondition(values.count == layout.elementCount)
    switch layout.type {
    case .f32:
        dst.copyMemory(from: values.baseAddress!, byteCount: values.count * 4)
    case .f16:
        let p = dst.assumingMemoryBound(to: Float16.self)
        for i in 0..<values.count { p[i] = Float16(values[i]) }
    case .int8, .int4:
        let nb = layout.blocksPerRow
        let bpb = layout.type.bytesPerBlock
        let scales = (dst + layout.scalesOffset).assumingMemoryBound(to: Float.self)
        for r in 0..<layout.rows {
            let row = UnsafeBufferPointer(rebasing: values[(r * layout.cols)..<((r + 1) * layout.cols)])
            let q = dst + r * nb * bpb
            if layout.type == .int8 {
                quantizeRowInt8(row, quants: q.assumingMemoryBound(to: Int8.self), scales: scales + r * nb)
            } else {
                quantizeRowInt4(row, quants: q.assumingMemoryBound(to: UInt8.self), scales: scales + r * nb)
            }
        }
    }
}
