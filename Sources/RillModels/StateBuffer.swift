/// One array of a context's recurrent state, as a state file sees it: f32 values, whatever
/// the storage (an f16 K/V ring is written as the f32 values of its halves and rounded back
/// to f16 when read).
public enum StateBuffer {
    case f32(UnsafeMutableBufferPointer<Float>)
    case f16(UnsafeMutableBufferPointer<Float16>)

    /// Elements (each 4 bytes in a state file).
    public var count: Int {
        switch self {
        case let .f32(b): return b.count
        case let .f16(b): return b.count
        }
    }

    /// The values as floats.
    public var floats: [Float] {
        switch self {
        case let .f32(b): return Array(b)
        case let .f16(b): return b.map(Float.init)
        }
    }

    /// Appends the values as f32, in the machine's byte order (little-endian on every target).
    public func appendFloats(to bytes: inout [UInt8]) {
        switch self {
        case let .f32(b): bytes += UnsafeRawBufferPointer(b)
        case let .f16(b):
            for h in b { withUnsafeBytes(of: Float(h)) { bytes += $0 } }
        }
    }

    /// Sets the values from `count` f32 at `raw` (any alignment); an f16 buffer rounds them.
    public func setFloats(from raw: UnsafeRawPointer) {
        switch self {
        case let .f32(b):
            UnsafeMutableRawBufferPointer(b).copyMemory(from: UnsafeRawBufferPointer(start: raw, count: b.count * 4))
        case let .f16(b):
            for i in 0..<b.count { b[i] = Float16(raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)) }
        }
    }
}

extension StateBuffer {
    /// Bytes the buffer holds as stored (4 per f32 element, 2 per f16 one).
    public var storedBytes: Int {
        switch self {
        case let .f32(b): return b.count * 4
        case let .f16(b): return b.count * 2
        }
    }

    /// Copies the stored bytes to `out` (``storedBytes`` of them): a snapshot in the buffer's
    /// own storage, so an f16 cache is not widened.
    public func copyStored(to out: UnsafeMutableRawPointer) {
        switch self {
        case let .f32(b): out.copyMemory(from: b.baseAddress!, byteCount: b.count * 4)
        case let .f16(b): out.copyMemory(from: b.baseAddress!, byteCount: b.count * 2)
        }
    }

    /// Sets the stored bytes from `src` (``storedBytes`` of them), as ``copyStored(to:)`` wrote them.
    public func restoreStored(from src: UnsafeRawPointer) {
        switch self {
        case let .f32(b): UnsafeMutableRawPointer(b.baseAddress!).copyMemory(from: src, byteCount: b.count * 4)
        case let .f16(b): UnsafeMutableRawPointer(b.baseAddress!).copyMemory(from: src, byteCount: b.count * 2)
        }
    }
}
