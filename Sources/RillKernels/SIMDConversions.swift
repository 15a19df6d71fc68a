// Lane conversions between SIMD element types, written lane by lane.
//
// The standard library's generic conversions (`SIMD8<Int32>(truncatingIfNeeded:)`,
// `SIMD8<Float>(_: SIMD8<Int32>)`) are calls to pre-specialised functions unless the optimiser
// chooses to inline them, and in a large kernel it often does not: the int8 mat-vec ran 2–4×
// slower with one call per conversion (seen in the disassembly). Written out lane by lane in an
// always-inlined function, LLVM rebuilds the single vector instruction from the lanes
// (sign-extend + `cvtdq2ps` on x86-64, `sxtl` + `scvtf` on arm64), and the call cannot come back.

/// `Float(v[i])` for 8 signed bytes.
@inline(__always)
func widenToFloat(_ v: SIMD8<Int8>) -> SIMD8<Float> {
    SIMD8(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}

/// `Int32(v[i])` for 8 signed bytes.
@inline(__always)
func widenToInt32(_ v: SIMD8<Int8>) -> SIMD8<Int32> {
    SIMD8(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]))
}

/// `Float(v[i])` for 8 `Int32` lanes.
@inline(__always)
func convertToFloat(_ v: SIMD8<Int32>) -> SIMD8<Float> {
    SIMD8(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}

/// `Float(v[i])` for 8 halves.
@inline(__always)
func widenToFloat(_ v: SIMD8<Float16>) -> SIMD8<Float> {
    SIMD8(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]))
}

/// The low 8 bits of each lane, as signed bytes (`Int8(truncatingIfNeeded: v[i])`).
@inline(__always)
func narrowToInt8(_ v: SIMD8<Int32>) -> SIMD8<Int8> {
    SIMD8(Int8(truncatingIfNeeded: v[0]), Int8(truncatingIfNeeded: v[1]), Int8(truncatingIfNeeded: v[2]),
          Int8(truncatingIfNeeded: v[3]), Int8(truncatingIfNeeded: v[4]), Int8(truncatingIfNeeded: v[5]),
          Int8(truncatingIfNeeded: v[6]), Int8(truncatingIfNeeded: v[7]))
}

/// `Int32(v[i])` for 8 unsigned bytes.
@inline(__always)
func widenToInt32(_ v: SIMD8<UInt8>) -> SIMD8<Int32> {
    SIMD8(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]))
}

/// `Int16(v[i])` for 8 signed bytes.
@inline(__always)
func widenToInt16(_ v: SIMD8<Int8>) -> SIMD8<Int16> {
    SIMD8(Int16(v[0]), Int16(v[1]), Int16(v[2]), Int16(v[3]), Int16(v[4]), Int16(v[5]), Int16(v[6]), Int16(v[7]))
}

/// `Int16(v[i])` for 8 unsigned bytes.
@inline(__always)
func widenToInt16(_ v: SIMD8<UInt8>) -> SIMD8<Int16> {
    SIMD8(Int16(v[0]), Int16(v[1]), Int16(v[2]), Int16(v[3]), Int16(v[4]), Int16(v[5]), Int16(v[6]), Int16(v[7]))
}

/// `Int32(v[i])` for 8 `Int16` lanes.
@inline(__always)
func widenToInt32(_ v: SIMD8<Int16>) -> SIMD8<Int32> {
    SIMD8(Int32(v[0]), Int32(v[1]), Int32(v[2]), Int32(v[3]), Int32(v[4]), Int32(v[5]), Int32(v[6]), Int32(v[7]))
}

// MARK: - int4 nibbles

/// The 32 weights `n − 8` of one int4 block as four groups of 8 `Int32` lanes, in element
/// order: group 0 = elements 0..<8 (low nibbles of bytes 0..<8), group 1 = 8..<16, group 2 =
/// 16..<24 (high nibbles of bytes 0..<8), group 3 = 24..<32. The nibbles are split after
/// widening, where every target has plain shifts and masks (split as bytes, the x86-64
/// baseline build lost half its speed to shuffles).
@inline(__always)
func unpackInt4(_ q: UnsafeRawPointer) -> (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>) {
    let v0 = widenToInt32(q.loadUnaligned(as: SIMD8<UInt8>.self))
    let v1 = widenToInt32(q.loadUnaligned(fromByteOffset: 8, as: SIMD8<UInt8>.self))
    let eight = SIMD8<Int32>(repeating: 8), mask = SIMD8<Int32>(repeating: 0x0F)
    return ((v0 & mask) &- eight, (v1 & mask) &- eight, (v0 &>> 4) &- eight, (v1 &>> 4) &- eight)
}

/// As ``unpackInt4(_:)``, in `Int16` lanes (for products with int8 activations).
@inline(__always)
func unpackInt4ToInt16(_ q: UnsafeRawPointer) -> (SIMD8<Int16>, SIMD8<Int16>, SIMD8<Int16>, SIMD8<Int16>) {
    let v0 = widenToInt16(q.loadUnaligned(as: SIMD8<UInt8>.self))
    let v1 = widenToInt16(q.loadUnaligned(fromByteOffset: 8, as: SIMD8<UInt8>.self))
    let eight = SIMD8<Int16>(repeating: 8), mask = SIMD8<Int16>(repeating: 0x0F)
    return ((v0 & mask) &- eight, (v1 & mask) &- eight, (v0 &>> 4) &- eight, (v1 &>> 4) &- eight)
}
