import RillFormat

// int8 weights × f32 activations: each block of 32 quants is widened in registers
// (Int8 → Int32 → Float), dotted with the 32 activations, and the block sum is scaled once.

// MARK: - Block dot product

/// `Σ_{i<32} q[i] · x[i]` for one int8 block, as 8 lanes (`.sum()` gives the scalar).
@inline(__always)
func dotBlockInt8(_ q: UnsafeRawPointer, _ x: ActivationBlock) -> SIMD8<Float> {
    @inline(__always) func w(_ k: Int) -> SIMD8<Float> {
        widenToFloat(q.loadUnaligned(fromByteOffset: 8 * k, as: SIMD8<Int8>.self))
    }
    let s = w(0) * x[0] + w(1) * x[1]
    return s + w(2) * x[2] + w(3) * x[3]
}

// MARK: - Mat-vec

/// `y[r] = Σ_b d[r, b] · Σ_{i<32} q[r, b, i] · x[32b + i]` for `r` in `rows` (int8 weights).
///
/// Four rows per pass share each load of `x`; one 8-lane accumulator per row. The partial
/// last block reads its activations from a zero-padded copy made once per call.
func matVecInt8(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    precondition(w.type == .int8)
    let bs = QuantType.blockSize
    let cols = w.cols, nb = w.layout.blocksPerRow
    let full = cols / bs
    let hasTail = full < nb
    let tail = tailActivations(x, cols: cols)
    let rowBytes = nb * bs
    var r = rows.lowerBound
    while r + 4 <= rows.upperBound {
        let q0 = w.quants + r * rowBytes, q1 = q0 + rowBytes, q2 = q1 + rowBytes, q3 = q2 + rowBytes
        let s0 = w.scales + r * nb, s1 = s0 + nb, s2 = s1 + nb, s3 = s2 + nb
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        for b in 0..<full {
            let xb = loadActivations(x, at: b * bs)
            a0 += dotBlockInt8(q0 + b * bs, xb) * s0[b]
            a1 += dotBlockInt8(q1 + b * bs, xb) * s1[b]
            a2 += dotBlockInt8(q2 + b * bs, xb) * s2[b]
            a3 += dotBlockInt8(q3 + b * bs, xb) * s3[b]
        }
        if hasTail {
            a0 += dotBlockInt8(q0 + full * bs, tail) * s0[full]
            a1 += dotBlockInt8(q1 + full * bs, tail) * s1[full]
            a2 += dotBlockInt8(q2 + full * bs, tail) * s2[full]
            a3 += dotBlockInt8(q3 + full * bs, tail) * s3[full]
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
            a0 += dotBlockInt8(q0 + b * bs, xb) * s0[b]
        }
        if hasTail { a0 += dotBlockInt8(q0 + full * bs, tail) * s0[full] }
        y[r] = a0.sum()
        r += 1
    }
}
