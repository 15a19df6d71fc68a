import RillFormat

// Whole rows of stored weights to f32, for the tiled GEMM of prefill.

/// Writes rows `rows` of `w` as f32 into `out`, row-major with `w.cols` floats per row
/// (`out[(r − rows.lowerBound) · cols + j] = W[r, j]`): `q · d` for int8, `(n − 8) · d` for
/// int4, the value for f16/f32. Bitwise equal to `TensorView.dequantizeRow` (one rounding per
/// element in both). The padding of the last block is not written.
public func dequantizeRows(_ w: TensorView, rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
    precondition(rows.lowerBound >= 0 && rows.upperBound <= w.rows, "\(w.name): rows \(rows) outside 0..<\(w.rows)")
    let cols = w.cols
    switch w.type {
    case .f32:
        (UnsafeMutableRawPointer(out)).copyMemory(from: w.f32 + rows.lowerBound * cols, byteCount: rows.count * cols * 4)
    case .f16:
        let src = w.f16 + rows.lowerBound * cols
        let n = rows.count * cols
        var i = 0
        while i + 8 <= n {
            let v = widenToFloat(UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float16>.self))
            UnsafeMutableRawPointer(out + i).storeBytes(of: v, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n { out[i] = Float(src[i]); i += 1 }
    case .int8:
        dequantizeBlockRows(w, rows: rows, into: out) { q in
            (widenToFloat(q.loadUnaligned(as: SIMD8<Int8>.self)), widenToFloat(q.loadUnaligned(fromByteOffset: 8, as: SIMD8<Int8>.self)),
             widenToFloat(q.loadUnaligned(fromByteOffset: 16, as: SIMD8<Int8>.self)), widenToFloat(q.loadUnaligned(fromByteOffset: 24, as: SIMD8<Int8>.self)))
        }
    case .int4:
        dequantizeBlockRows(w, rows: rows, into: out) { q in
            let n = unpackInt4(q)
            return (convertToFloat(n.0), convertToFloat(n.1), convertToFloat(n.2), convertToFloat(n.3))
        }
    case .int4k:
        dequantizeInt4KRows(w, rows: rows, into: out)
    }
}

/// int4k rows: `n · s − m` per element with the block's decoded scale s and minimum m, the
/// normative two roundings (`int4KValue`), so bitwise equal to `TensorView.dequantizeRow`.
func dequantizeInt4KRows(_ w: TensorView, rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
    let bs = QuantType.blockSize
    let cols = w.cols, nb = w.layout.blocksPerRow
    var block = ActivationBlock(v: (.zero, .zero, .zero, .zero))
    for r in rows {
        let o = out + (r - rows.lowerBound) * cols
        for b in 0..<nb {
            let (q, s, m) = w.int4KBlock(row: r, block: b)
            let n = unpackInt4(q)  // n − 8, exact in Float, so + 8 gives n exactly
            let eight = SIMD8<Float>(repeating: 8)
            block = ActivationBlock(v: (
                (convertToFloat(n.0) + eight) * s - m, (convertToFloat(n.1) + eight) * s - m,
                (convertToFloat(n.2) + eight) * s - m, (convertToFloat(n.3) + eight) * s - m))
            let left = min(bs, cols - b * bs)
            if left == bs {
                let p = UnsafeMutableRawPointer(o + b * bs)
                for k in 0..<4 { p.storeBytes(of: block[k], toByteOffset: 32 * k, as: SIMD8<Float>.self) }
            } else {
                for k in 0..<4 where 8 * k < left { storePartial(block[k], o + b * bs + 8 * k, count: min(8, left - 8 * k)) }
            }
        }
    }
}

/// The block-type row loop: `block(q)` gives the 32 elements of the block at `q` as floats
/// before scaling, in four groups of 8.
@inline(__always)
func dequantizeBlockRows(
    _ w: TensorView, rows: Range<Int>, into out: UnsafeMutablePointer<Float>,
    block: (UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>)
) {
    let bs = QuantType.blockSize
    let cols = w.cols, nb = w.layout.blocksPerRow
    let full = cols / bs
    for r in rows {
        let o = out + (r - rows.lowerBound) * cols
        for b in 0..<full {
            let (q, d) = w.block(row: r, block: b)
            let v = block(q)
            let p = UnsafeMutableRawPointer(o + b * bs)
            p.storeBytes(of: v.0 * d, as: SIMD8<Float>.self)
            p.storeBytes(of: v.1 * d, toByteOffset: 32, as: SIMD8<Float>.self)
            p.storeBytes(of: v.2 * d, toByteOffset: 64, as: SIMD8<Float>.self)
            p.storeBytes(of: v.3 * d, toByteOffset: 96, as: SIMD8<Float>.self)
        }
        if full < nb {
            let (q, d) = w.block(row: r, block: full)
            let v = block(q)
            let left = cols - full * bs
            let groups = ActivationBlock(v: v)  // (a plain tuple, indexable)
            for k in 0..<4 where 8 * k < left {
                storePartial(groups[k] * d, o + full * bs + 8 * k, count: min(8, left - 8 * k))
            }
        }
    }
}
