import RillFormat

// int4 weights × f32 activations: each block of 16 bytes is split into nibbles in registers
// (low nibbles = elements 0..<16, high = 16..<32; n − 8 as Int8 → Int32 → Float), dotted with
// the 32 activations, and the block sum is scaled once.

// MARK: - Block dot product

/// `Σ_{i<32} (n[i] − 8) · x[i]` for one int4 block of 16 bytes (byte `i` holds `n[i]` in its
/// low nibble and `n[i + 16]` in its high nibble), as 8 lanes
/// (`.sum()` gives the scalar).
@inline(__always)
func dotBlockInt4(_ q: UnsafeRawPointer, _ x: ActivationBlock) -> SIMD8<Float> {
    let n = unpackInt4(q)
    let s = convertToFloat(n.0) * x[0] + convertToFloat(n.1) * x[1]
    return s + convertToFloat(n.2) * x[2] + convertToFloat(n.3) * x[3]
}

// MARK: - Mat-vec

/// `y[r] = Σ_b d[r, b] · Σ_{i<32} (n[r, b, i] − 8) · x[32b + i]` for `r` in `rows` (int4 weights).
///
/// Four rows per pass share each load of `x`; one 8-lane accumulator per row. The partial
/// last block reads its activations from a zero-padded copy made once per call.
func matVecInt4(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    precondition(w.type == .int4)
    let bs = QuantType.blockSize
    let cols = w.cols, nb = w.layout.blocksPerRow
    let full = cols / bs
    let hasTail = full < nb
    let tail = tailActivations(x, cols: cols)
    let rowBytes = nb * (bs / 2)
    var r = rows.lowerBound
    while r + 4 <= rows.upperBound {
        let q0 = w.quants + r * rowBytes, q1 = q0 + rowBytes, q2 = q1 + rowBytes, q3 = q2 + rowBytes
        let s0 = w.scales + r * nb, s1 = s0 + nb, s2 = s1 + nb, s3 = s2 + nb
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        for b in 0..<full {
            let xb = loadActivations(x, at: b * bs)
            a0 += dotBlockInt4(q0 + b * (bs / 2), xb) * s0[b]
            a1 += dotBlockInt4(q1 + b * (bs / 2), xb) * s1[b]
            a2 += dotBlockInt4(q2 + b * (bs / 2), xb) * s2[b]
            a3 += dotBlockInt4(q3 + b * (bs / 2), xb) * s3[b]
        }
        if hasTail {
            a0 += dotBlockInt4(q0 + full * (bs / 2), tail) * s0[full]
            a1 += dotBlockInt4(q1 + full * (bs / 2), tail) * s1[full]
            a2 += dotBlockInt4(q2 + full * (bs / 2), tail) * s2[full]
            a3 += dotBlockInt4(q3 + full * (bs / 2), tail) * s3[full]
        }
        y[r] = a0.sum(); y[r + 1] = a1.sum(); y[r + 2] = a2.sum(); y[r + 3] = a3.sum()
        r += 4
    }
    while r < rows.upperBound {
        let q0 = w.quants + r * rowBytes
        let s0 = w.scales + r * nb
        var a0 = SIMD8<Float>()
        for b in 0..<full {
            let xb = loadActivations(x, at: b * bs)
            a0 += dotBlockInt4(q0 + b * (bs / 2), xb) * s0[b]
        }
        if hasTail { a0 += dotBlockInt4(q0 + full * (bs / 2), tail) * s0[full] }
        y[r] = a0.sum()
        r += 1
    }
}
