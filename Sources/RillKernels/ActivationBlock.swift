import RillFormat

// The activations of one block of 32, as the block mat-vec kernels load them.

/// The 32 activations (or any 32 floats) of one block as four 8-lane quarters, in element
/// order, indexable by quarter without an array.
struct ActivationBlock {
    var v: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)
    @inline(__always) subscript(k: Int) -> SIMD8<Float> {
        switch k {
        case 0: return v.0
        case 1: return v.1
        case 2: return v.2
        default: return v.3
        }
    }
}

/// The activations of the last, partial block of a row of `cols` elements, zero past `cols`:
/// `x` is read only below `cols`. All zeros when `cols` is a multiple of 32 (then there is no
/// partial block).
@inline(__always)
func tailActivations(_ x: UnsafePointer<Float>, cols: Int) -> ActivationBlock {
    let j = cols / QuantType.blockSize * QuantType.blockSize
    var t = ActivationBlock(v: (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>()))
    withUnsafeMutableBytes(of: &t.v) { p in
        for i in 0..<(cols - j) { p.storeBytes(of: x[j + i], toByteOffset: 4 * i, as: Float.self) }
    }
    return t
}

/// Loads the 32 activations `x[j ..< j + 32]`.
@inline(__always)
func loadActivations(_ x: UnsafePointer<Float>, at j: Int) -> ActivationBlock {
    let p = UnsafeRawPointer(x + j)
    return ActivationBlock(v: (p.loadUnaligned(as: SIMD8<Float>.self), p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self),
            p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self), p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)))
}
