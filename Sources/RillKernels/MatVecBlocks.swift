import RillFormat

// int8 / int4 weights × f32 activations: each block of 32 quants is widened in registers to
// Float, dotted with the 32 activations, and the block sum is multiplied by its scale once.
//
// Disassembly of the hot loop (release, -Ounchecked, Swift 6.3.1), per block and row:
// - x86-64 with `-target-cpu haswell`: 4 × (vpmovsxbd mem → ymm, vcvtdq2ps, vmulps with x),
//   3 vaddps, vbroadcastss of the scale, vmulps, vaddps into the accumulator; no calls, no
//   spills. No vfmadd: Swift does not contract `a * b + c`, and `addingProduct` is a call to
//   `fmaf` per lane on the x86-64 baseline (no FMA there).
// - x86-64 baseline (the default build, SSE2): the same in xmm halves, sign extension by
//   punpcklbw/punpcklwd/psrad; two rows per pass keep the 16 xmm registers from spilling.
// - arm64 (IR retargeted to cortex-a76): per 8 weights 2 × (tbl + scvtf #24, a fixed-point
//   convert that does the sign extension), fmul, fadd; no calls.
// The standard library's SIMD conversions stayed calls in this kernel until written lane by
// lane (SIMDConversions.swift).

// MARK: - Block dot products

/// `Σ_{i<32} q[i] · x[i]` for one int8 block, as 8 lanes (`.sum()` gives the scalar).
@inline(__always)
func dotBlockInt8(_ q: UnsafeRawPointer, _ x: ActivationBlock) -> SIMD8<Float> {
    @inline(__always) func w(_ k: Int) -> SIMD8<Float> {
        widenToFloat(q.loadUnaligned(fromByteOffset: 8 * k, as: SIMD8<Int8>.self))
    }
    let s = w(0) * x[0] + w(1) * x[1]
    return s + w(2) * x[2] + w(3) * x[3]
}

/// `Σ_{i<32} (n[i] − 8) · x[i]` for one int4 block of 16 bytes (byte `i` holds `n[i]` in its
/// low nibble and `n[i + 16]` in its high nibble), as 8 lanes.
@inline(__always)
func dotBlockInt4(_ q: UnsafeRawPointer, _ x: ActivationBlock) -> SIMD8<Float> {
    let n = unpackInt4(q)
    let s = convertToFloat(n.0) * x[0] + convertToFloat(n.1) * x[1]
    return s + convertToFloat(n.2) * x[2] + convertToFloat(n.3) * x[3]
}

// MARK: - Mat-vec

/// `y[r] = Σ_b d[r, b] · Σ_{i<32} w[r, b, i] · x[32b + i]` for `r` in `rows`, int8 weights.
func matVecInt8(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    precondition(w.type == .int8)
    matVecBlockRows(w, x, y, rows: rows, dot: dotBlockInt8)
}

/// `y[r] = Σ_b d[r, b] · Σ_{i<32} (n[r, b, i] − 8) · x[32b + i]` for `r` in `rows`, int4 weights.
func matVecInt4(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    precondition(w.type == .int4)
    matVecBlockRows(w, x, y, rows: rows, dot: dotBlockInt4)
}

/// `y[r] = Σ_b Σ_{i<32} (n[r, b, i] · s[r, b] − m[r, b]) · x[32b + i]` for `r` in `rows`, int4k
/// weights (s and m a block's decoded scale and minimum): per block `Σ (n − 8)·x · s +
/// (8·s − m) · Σ x` in eight lanes. A row at a time: a float-activation path, off decode's
/// (``matVecQ8(_:_:_:rows:)``).
func matVecInt4K(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    precondition(w.type == .int4k)
    let bs = QuantType.blockSize
    let cols = w.cols, nb = w.layout.blocksPerRow
    let tail = tailActivations(x, cols: cols)
    for r in rows {
        var acc = SIMD8<Float>()
        for b in 0..<nb {
            let xb = (b + 1) * bs <= cols ? loadActivations(x, at: b * bs) : tail
            let (q, s, m) = w.int4KBlock(row: r, block: b)
            acc += dotBlockInt4(q, xb) * s + ((xb[0] + xb[1]) + (xb[2] + xb[3])) * (8 * s - m)
        }
        y[r] = acc.sum()
    }
}

/// The row loop of the block kernels, specialised per weight type by inlining `dot`.
///
/// Two rows per pass share each load of `x` (four spilled registers on the x86-64 baseline
/// and ran ~20 % slower; with AVX2 two and four were equal); one 8-lane accumulator per row.
/// The partial last block reads its activations from a zero-padded copy made once per call.
@inline(__always)
func matVecBlockRows(
    _ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>,
    dot: (UnsafeRawPointer, ActivationBlock) -> SIMD8<Float>
) {
    let bs = QuantType.blockSize
    let cols = w.cols, nb = w.layout.blocksPerRow
    let full = cols / bs
    let hasTail = full < nb
    let tail = tailActivations(x, cols: cols)
    var r = rows.lowerBound
    while r + 2 <= rows.upperBound {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        for b in 0..<full {
            let xb = loadActivations(x, at: b * bs)
            let b0 = w.block(row: r, block: b), b1 = w.block(row: r + 1, block: b)
            a0 += dot(b0.quants, xb) * b0.scale
            a1 += dot(b1.quants, xb) * b1.scale
        }
        if hasTail {
            let b0 = w.block(row: r, block: full), b1 = w.block(row: r + 1, block: full)
            a0 += dot(b0.quants, tail) * b0.scale
            a1 += dot(b1.quants, tail) * b1.scale
        }
        y[r] = a0.sum(); y[r + 1] = a1.sum()
        r += 2
    }
    if r < rows.upperBound {
        var a0 = SIMD8<Float>()
        for b in 0..<full {
            let b0 = w.block(row: r, block: b)
            a0 += dot(b0.quants, loadActivations(x, at: b * bs)) * b0.scale
        }
        if hasTail {
            let b0 = w.block(row: r, block: full)
            a0 += dot(b0.quants, tail) * b0.scale
        }
        y[r] = a0.sum()
    }
}
