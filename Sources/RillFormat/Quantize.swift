// Reference (scalar) quantisation and dequantisation of the block types.
// The converter uses these to write files; the kernels' tests use them as the truth.

// MARK: - int8

/// Quantises one row of `cols` floats into int8 blocks of 32 (`Formats/rill.md` §6.3).
///
/// For each block, `d = max|x| / 127` and `q = round(x / d)`; an all-zero block has `d = 0`,
/// `q = 0`. Elements past `cols` in the last block are zero. The error per element is at most
/// `d / 2`.
public func quantizeRowInt8(
    _ x: UnsafeBufferPointer<Float>, quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>
) {
    let bs = QuantType.blockSize
    let nb = (x.count + bs - 1) / bs
    for b in 0..<nb {
        var amax: Float = 0
        for i in 0..<bs {
            let j = b * bs + i
            if j < x.count { amax = max(amax, abs(x[j])) }
        }
        let d = amax / 127
        // For a subnormal d, 1/d overflows: divide instead (the reference path, not hot).
        let id: Float = d == 0 ? 0 : 1 / d
        scales[b] = d
        for i in 0..<bs {
            let j = b * bs + i
            let v: Float = j < x.count ? (id.isFinite ? x[j] * id : x[j] / d) : 0
            quants[b * bs + i] = Int8(max(-127, min(127, v.rounded(.toNearestOrEven))))
        }
    }
}

/// Inverse of ``quantizeRowInt8(_:quants:scales:)``: writes `out.count` floats.
public func dequantizeRowInt8(
    quants: UnsafePointer<Int8>, scales: UnsafePointer<Float>, out: UnsafeMutableBufferPointer<Float>
) {
    let bs = QuantType.blockSize
    for j in 0..<out.count {
        out[j] = Float(quants[j]) * scales[j / bs]
    }
}

// MARK: - int4

/// Quantises one row into int4 blocks of 32 (`Formats/rill.md` §6.4).
///
/// For each block let `m` be the element of largest magnitude; `d = m / −8` and
/// `n = clamp(round(x / d) + 8, 0, 15)`, so `m` itself is exact and 16 levels are used.
/// Byte `i` of a block (i < 16) holds element `i` in its low nibble and element `i + 16` in
/// its high nibble. The error per element is at most `|d|` (at the clamped end) and `|d|/2`
/// elsewhere.
public func quantizeRowInt4(
    _ x: UnsafeBufferPointer<Float>, quants: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>
) {
    let bs = QuantType.blockSize
    let nb = (x.count + bs - 1) / bs
    for b in 0..<nb {
        var amax: Float = 0
        var m: Float = 0
        for i in 0..<bs {
            let j = b * bs + i
            if j < x.count, abs(x[j]) > amax { amax = abs(x[j]); m = x[j] }
        }
        let d = m / -8
        let id: Float = d == 0 ? 0 : 1 / d
        scales[b] = d
        func nibble(_ i: Int) -> UInt8 {
            let j = b * bs + i
            let v: Float = j < x.count ? (id.isFinite ? x[j] * id : x[j] / d) : 0
            return UInt8(max(0, min(15, v.rounded(.toNearestOrEven) + 8)))
        }
        for i in 0..<(bs / 2) {
            quants[b * (bs / 2) + i] = nibble(i) | (nibble(i + bs / 2) << 4)
        }
    }
}

/// Inverse of ``quantizeRowInt4(_:quants:scales:)``: writes `out.count` floats.
public func dequantizeRowInt4(
    quants: UnsafePointer<UInt8>, scales: UnsafePointer<Float>, out: UnsafeMutableBufferPointer<Float>
) {
    let bs = QuantType.blockSize
    for j in 0..<out.count {
        let b = j / bs, i = j % bs
        let byte = quants[b * (bs / 2) + (i % (bs / 2))]
        let n = i < bs / 2 ? byte & 0x0F : byte >> 4
        out[j] = Float(Int(n) - 8) * scales[b]
    }
}
