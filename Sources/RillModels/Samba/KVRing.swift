#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
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
///
/// SUBLLM's full-attention layers use it with W = the session's context, so that no slot is
/// ever overwritten: a cache reserved at creation. The storage comes from `calloc`, so the
/// pages of positions not yet reached cost address space, not memory, and ``reset()`` zeroes
/// only the slots written since.
public final class KVRing {
    public let window: Int
    public let kvDim: Int
    /// (W, kvDim) keys and values, as stored.
    public enum Storage {
        case f32(keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>)
        case f16(keys: UnsafeMutablePointer<Float16>, values: UnsafeMutablePointer<Float16>)
    }
    public let storage: Storage
    /// One past the highest slot written since the last reset (or restored into).
    private var used = 0

    public var type: KVCacheType {
        switch storage {
        case .f32: return .f32
        case .f16: return .f16
        }
    }

    public init(window: Int, kvDim: Int, type: KVCacheType = .f32) {
        self.window = window
        self.kvDim = kvDim
        let n = max(1, window * kvDim)
        func zeroed<T>(_: T.Type) -> UnsafeMutablePointer<T> {
            guard let p = calloc(n, MemoryLayout<T>.stride) else { fatalError("out of memory allocating a \(n)-element K/V cache") }
            return p.bindMemory(to: T.self, capacity: n)
        }
        switch type {
        case .f32: storage = .f32(keys: zeroed(Float.self), values: zeroed(Float.self))
        case .f16: storage = .f16(keys: zeroed(Float16.self), values: zeroed(Float16.self))
        }
    }

    deinit {
        switch storage {
        case let .f32(k, v): free(k); free(v)
        case let .f16(k, v): free(k); free(v)
        }
    }

    public func reset() {
        let n = used * kvDim
        switch storage {
        case let .f32(k, v): k.update(repeating: 0, count: n); v.update(repeating: 0, count: n)
        case let .f16(k, v): k.update(repeating: 0, count: n); v.update(repeating: 0, count: n)
        }
        used = 0
    }

    /// Stores one position's key and value rows (`kvDim` floats each) in `slot`, rounded to
    /// f16 in an f16 ring.
    public func write(slot: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        precondition(slot >= 0 && slot < window)
        used = max(used, slot + 1)
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

    /// The keys and the values, for state files (which may write any slot).
    var stateBuffers: [StateBuffer] {
        used = window
        let n = window * kvDim
        switch storage {
        case let .f32(k, v): return [.f32(UnsafeMutableBufferPointer(start: k, count: n)), .f32(UnsafeMutableBufferPointer(start: v, count: n))]
        case let .f16(k, v): return [.f16(UnsafeMutableBufferPointer(start: k, count: n)), .f16(UnsafeMutableBufferPointer(start: v, count: n))]
        }
    }

    /// Bytes of the keys and values of `slots` positions (`window` for the whole ring).
    func bytes(slots: Int) -> Int { 2 * slots * kvDim * type.elementBytes }
}
