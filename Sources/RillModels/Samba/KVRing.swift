import RillKernels

/// How a context stores attention keys and values (SAMBA's K/V rings).
///
/// f16 halves the rings' memory and the bytes a decode step reads from them past the window
/// (SAMBA-400M: 50 → 25 MB). Measured on samba-tiny: f16 keys and values move the f32 model's
/// logits by up to 8.3e-3 (f32 rings: 3e-5 against the reference, the 1e-3 exactness bound),
/// and leave the int8 and int4 files' arg-max agreement where the f32 rings have it — so f16 is
/// the default for files whose attention weights are quantised, f32 for f32/f16 files.
public enum KVCacheType: String, Sendable, CaseIterable {
    case f32, f16

    /// Bytes per stored element.
    public var elementBytes: Int { self == .f32 ? 4 : 2 }
}

/// The K/V ring buffer of one sliding-window attention layer: the last W positions' keys and
/// values, slot `p mod W` for position p, stored as ``KVCacheType``. Its size is fixed
/// whatever the sequence length.
public final class KVRing {
    public let window: Int
    public let kvDim: Int
    /// (W, kvDim) keys and values, as stored.
    public enum Storage {
        case f32(keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>)
        case f16(keys: UnsafeMutablePointer<Float16>, values: UnsafeMutablePointer<Float16>)
    }
    public let storage: Storage

    public var type: KVCacheType {
        switch storage {
        case .f32: return .f32
        case .f16: return .f16
        }
    }

    public init(window: Int, kvDim: Int, type: KVCacheType = .f32) {
        self.window = window
        self.kvDim = kvDim
        let n = window * kvDim
        switch type {
        case .f32: storage = .f32(keys: .allocate(capacity: n), values: .allocate(capacity: n))
        case .f16: storage = .f16(keys: .allocate(capacity: n), values: .allocate(capacity: n))
        }
        reset()
    }

    deinit {
        switch storage {
        case let .f32(k, v): k.deallocate(); v.deallocate()
        case let .f16(k, v): k.deallocate(); v.deallocate()
        }
    }

    public func reset() {
        let n = window * kvDim
        switch storage {
        case let .f32(k, v): k.initialize(repeating: 0, count: n); v.initialize(repeating: 0, count: n)
        case let .f16(k, v): k.initialize(repeating: 0, count: n); v.initialize(repeating: 0, count: n)
        }
    }

    /// Stores one position's key and value rows (`kvDim` floats each) in `slot`, rounded to
    /// f16 in an f16 ring.
    public func write(slot: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        precondition(slot >= 0 && slot < window)
        let off = slot * kvDim
        switch storage {
        case let .f32(k, v):
            (k + off).update(from: key, count: kvDim)
            (v + off).update(from: value, count: kvDim)
        case let .f16(k, v):
            narrowToHalf(key, k + off, count: kvDim)
            narrowToHalf(value, v + off, count: kvDim)
        }
    }

    /// The keys and the values, for state files.
    var stateBuffers: [StateBuffer] {
        let n = window * kvDim
        switch storage {
        case let .f32(k, v): return [.f32(UnsafeMutableBufferPointer(start: k, count: n)), .f32(UnsafeMutableBufferPointer(start: v, count: n))]
        case let .f16(k, v): return [.f16(UnsafeMutableBufferPointer(start: k, count: n)), .f16(UnsafeMutableBufferPointer(start: v, count: n))]
        }
    }

    /// Bytes of the keys and values of `slots` positions (`window` for the whole ring).
    func bytes(slots: Int) -> Int { 2 * slots * kvDim * type.elementBytes }
}
