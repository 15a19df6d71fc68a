import RillFormat

// Matrix-vector product y = W·x over the stored (possibly quantised) weights: the kernel that
// decode time is spent in. `matVec` dispatches on the weight type to a SIMD kernel per type
// (MatVecFloat.swift, MatVecBlocks.swift); `matVecReference` is the scalar twin the tests hold
// it to. For int8/int4 weights the int8-activation path (MatVecQ8.swift) is faster; this one
// needs no scratch and adds no rounding of x.
//
// Every fast kernel computes each row with the same sequence of operations whichever rows it
// is grouped with, so a row's result does not depend on `rows` (parallel == serial, bitwise).

// MARK: - Entry points

/// Computes `y[r] = Σ_j W[r, j] · x[j]` for every `r` in `rows` (`W (rows, cols) @ x (cols,)`).
///
/// - Parameters:
///   - w: weights of any ``QuantType``; a tensor of shape `[…, cols]` is read as its
///     `w.rows × w.cols` matrix. Block types are dequantised in registers (`q · d` for int8,
///     `(n − 8) · d` for int4).
///   - x: `w.cols` floats. Nothing past `x[w.cols − 1]` is read, even when the last block of a
///     row is padded.
///   - y: indexed by row: `y[r]` is written for `r ∈ rows`, nothing else.
///   - rows: a subrange of `0..<w.rows`; empty is allowed.
///
/// Sums run in `Float`, per block of 32 for the block types (block sum, then times its scale),
/// in 8 or 16 lanes, so results differ from ``matVecReference(_:_:_:rows:)`` by rounding only
/// (at most `(cols + 4) · Float.ulpOfOne · Σ_j |W[r, j] · x[j]|`, in practice ~√cols times less).
/// NaN or ±∞ in `x` or the weights propagates to the rows that use it.
///
/// For int8 and int4 weights, ``matVecQ8(_:_:_:rows:)`` (activations rounded to int8 once per
/// call) ran 1.2–1.7× faster in the timing harness; prefer it in decode.
public func matVec(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    precondition(rows.lowerBound >= 0 && rows.upperBound <= w.rows, "\(w.name): rows \(rows) outside 0..<\(w.rows)")
    switch w.type {
    case .f32: matVecF32(w.f32, cols: w.cols, x, y, rows: rows)
    case .f16: matVecF16(w.f16, cols: w.cols, x, y, rows: rows)
    case .int8: matVecInt8(w, x, y, rows: rows)
    case .int4: matVecInt4(w, x, y, rows: rows)
    case .int4k: matVecInt4K(w, x, y, rows: rows)
    }
}

/// Scalar twin of ``matVec(_:_:_:rows:)``: the same maths, one element at a time, each weight
/// dequantised on its own (`Float(q) · d`), summed left to right in `Float`.
public func matVecReference(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    precondition(rows.lowerBound >= 0 && rows.upperBound <= w.rows, "\(w.name): rows \(rows) outside 0..<\(w.rows)")
    let cols = w.cols
    let bs = QuantType.blockSize
    for r in rows {
        var sum: Float = 0
        switch w.type {
        case .f32:
            for j in 0..<cols { sum += w.f32[r * cols + j] * x[j] }
        case .f16:
            for j in 0..<cols { sum += Float(w.f16[r * cols + j]) * x[j] }
        case .int8:
            for j in 0..<cols {
                let (q, d) = w.block(row: r, block: j / bs)
                sum += Float(q.load(fromByteOffset: j % bs, as: Int8.self)) * d * x[j]
            }
        case .int4:
            for j in 0..<cols {
                let b = j / bs, i = j % bs
                let (q, d) = w.block(row: r, block: b)
                let byte = q.load(fromByteOffset: i % (bs / 2), as: UInt8.self)
                let n = i < bs / 2 ? byte & 0x0F : byte >> 4
                sum += Float(Int(n) - 8) * d * x[j]
            }
        case .int4k:
            let rs = w.int4KRowScales(row: r)
            for j in 0..<cols {
                let b = j / bs, i = j % bs
                let c = w.int4KCodes(row: r, block: b)
                let byte = c.quants.load(fromByteOffset: i % (bs / 2), as: UInt8.self)
                let n = i < bs / 2 ? byte & 0x0F : byte >> 4
                sum += int4KValue(n, scales: rs, s: c.s, m: c.m) * x[j]
            }
        }
        y[r] = sum
    }
}
