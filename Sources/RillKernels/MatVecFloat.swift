// f32 and f16 weights × f32 activations. Rows are `cols` elements with no padding, so the
// elements past the last full vector of each row are summed in a scalar tail added after
// `.sum()`.

// MARK: - f32

/// `y[r] = Σ_j W[r, j] · x[j]` for `r` in `rows`; `w` is row-major `(·, cols)` f32.
///
/// Four rows per pass share each load of `x`; one 16-lane accumulator per row (no conversions
/// here, so the wide generic type compiles to plain vector loads, multiplies and adds).
func matVecF32(
    _ w: UnsafePointer<Float>, cols: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>
) {
    let main = cols / 16 * 16
    var r = rows.lowerBound
    while r + 4 <= rows.upperBound {
        let w0 = UnsafeRawPointer(w + r * cols), w1 = w0 + 4 * cols, w2 = w1 + 4 * cols, w3 = w2 + 4 * cols
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var j = 0
        while j < main {
            let xv = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self)
            a0 += w0.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self) * xv
            a1 += w1.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self) * xv
            a2 += w2.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self) * xv
            a3 += w3.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self) * xv
            j += 16
        }
        var t0: Float = 0, t1: Float = 0, t2: Float = 0, t3: Float = 0
        for j in main..<cols {
            t0 += w[r * cols + j] * x[j]
            t1 += w[(r + 1) * cols + j] * x[j]
            t2 += w[(r + 2) * cols + j] * x[j]
            t3 += w[(r + 3) * cols + j] * x[j]
        }
        y[r] = a0.sum() + t0; y[r + 1] = a1.sum() + t1; y[r + 2] = a2.sum() + t2; y[r + 3] = a3.sum() + t3
        r += 4
    }
    while r < rows.upperBound {
        let w0 = UnsafeRawPointer(w + r * cols)
        var a0 = SIMD16<Float>()
        var j = 0
        while j < main {
            let xv = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD16<Float>.self)
            a0 += w0.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self) * xv
            j += 16
        }
        var t0: Float = 0
        for j in main..<cols { t0 += w[r * cols + j] * x[j] }
        y[r] = a0.sum() + t0
        r += 1
    }
}

// MARK: - f16

/// `y[r] = Σ_j Float(W[r, j]) · x[j]` for `r` in `rows`; `w` is row-major `(·, cols)` f16.
///
/// Two rows per pass, 8 weights at a time widened to `Float` in registers (`vcvtph2ps` with
/// F16C, `fcvtl` on arm64; on the x86-64 baseline, which has no F16C, a library call per
/// element: f16 tensors are meant to be rare, Rill stores f32 or int8/int4). The last
/// `cols % 8` elements of each row are summed in a scalar tail added after `.sum()`.
func matVecF16(
    _ w: UnsafePointer<Float16>, cols: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>
) {
    let main = cols / 8 * 8
    @inline(__always) func row(_ p: UnsafeRawPointer, _ j: Int) -> SIMD8<Float> {
        widenToFloat(p.loadUnaligned(fromByteOffset: 2 * j, as: SIMD8<Float16>.self))
    }
    var r = rows.lowerBound
    while r + 2 <= rows.upperBound {
        let w0 = UnsafeRawPointer(w + r * cols), w1 = w0 + 2 * cols
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var j = 0
        while j < main {
            let xv = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
            a0 += row(w0, j) * xv
            a1 += row(w1, j) * xv
            j += 8
        }
        var t0: Float = 0, t1: Float = 0
        for j in main..<cols {
            t0 += Float(w[r * cols + j]) * x[j]
            t1 += Float(w[(r + 1) * cols + j]) * x[j]
        }
        y[r] = a0.sum() + t0; y[r + 1] = a1.sum() + t1
        r += 2
    }
    if r < rows.upperBound {
        let w0 = UnsafeRawPointer(w + r * cols)
        var a0 = SIMD8<Float>()
        var j = 0
        while j < main {
            a0 += row(w0, j) * UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
            j += 8
        }
        var t0: Float = 0
        for j in main..<cols { t0 += Float(w[r * cols + j]) * x[j] }
        y[r] = a0.sum() + t0
    }
}
