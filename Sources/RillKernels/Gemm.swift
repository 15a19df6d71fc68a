import COpenBLAS
import RillFormat

// Matrix products for prefill: a block of T tokens at once goes through OpenBLAS's sgemm.
// Quantised weights are dequantised a tile of rows at a time into a fixed scratch buffer,
// so memory does not grow with the weights or the tokens.

// MARK: - sgemm

/// `C = alpha · op(A) · op(B) + beta · C`, row-major, through OpenBLAS `cblas_sgemm`.
///
/// `op(A)` is `m × k` (`A` is `m × k` with row stride `lda`, or `k × m` when `transposeA`),
/// `op(B)` is `k × n` (`B` is `k × n`, or `n × k` when `transposeB`), `C` is `m × n` with row
/// stride `ldc`. With `beta == 0`, `C` is not read (NaN in it does not propagate). Sizes must
/// fit in `Int32` (OpenBLAS's `blasint`). Threads: OpenBLAS's own pool, see
/// ``setBLASThreadCount(_:)``.
public func sgemm(
    m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
    b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    precondition(m >= 0 && n >= 0 && k >= 0)
    precondition(lda >= max(1, transposeA ? m : k) && ldb >= max(1, transposeB ? k : n) && ldc >= max(1, n))
    precondition([m, n, k, lda, ldb, ldc].allSatisfy { $0 <= Int(Int32.max) })
    if m == 0 || n == 0 { return }
    cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}

/// Sets the number of threads OpenBLAS uses for every later call in this process
/// (`openblas_set_num_threads`). The runtime sets it once from `--threads`; the setting is
/// process-wide, so two sessions in one process share it.
public func setBLASThreadCount(_ n: Int) {
    precondition(n >= 1)
    openblas_set_num_threads(Int32(n))
}

/// OpenBLAS's current thread count (`openblas_get_num_threads`).
public func blasThreadCount() -> Int {
    Int(openblas_get_num_threads())
}

// MARK: - Tiled product with stored weights

/// Floats of scratch that ``sgemmTiledQuantized(x:tokens:w:y:tileRows:scratch:scratchCount:)``
/// needs: one tile of `tileRows` dequantised rows of `cols` floats.
public func sgemmScratchCount(cols: Int, tileRows: Int) -> Int {
    cols * tileRows
}

/// `Y = X · Wᵀ` for a block of tokens: `Y[t, r] = Σ_j X[t, j] · W[r, j]`.
///
/// - Parameters:
///   - x: `X`, `tokens × w.cols`, row stride `ldx` (default `w.cols`).
///   - w: weights of any type, `w.rows × w.cols`. f32 goes to sgemm in one call, with no
///     copy; f16, int8 and int4 are dequantised `tileRows` rows at a time into `scratch`
///     (exactly as ``dequantizeRows(_:rows:into:)``), one sgemm per tile.
///   - y: `Y`, `tokens × w.rows`, row stride `ldy` (default `w.rows`); every element written.
///   - tileRows: rows per tile (≥ 1). 64–256 keeps the tile in L2 for d_model-sized rows.
///   - scratch: at least ``sgemmScratchCount(cols:tileRows:)`` floats; its size does not
///     depend on `tokens`.
///
/// Agrees with a mat-vec per token up to float rounding (sgemm sums in its own order).
public func sgemmTiledQuantized(
    x: UnsafePointer<Float>, ldx: Int? = nil, tokens: Int, w: TensorView,
    y: UnsafeMutablePointer<Float>, ldy: Int? = nil,
    tileRows: Int, scratch: UnsafeMutablePointer<Float>, scratchCount: Int
) {
    let ldx = ldx ?? w.cols, ldy = ldy ?? w.rows
    precondition(tokens >= 0 && tileRows >= 1 && ldx >= w.cols && ldy >= w.rows)
    if tokens == 0 { return }
    precondition(w.type == .f32 || scratchCount >= sgemmScratchCount(cols: w.cols, tileRows: min(tileRows, w.rows)),
                 "\(w.name): scratch of \(scratchCount) floats < \(tileRows) × \(w.cols)")
    // One slab holding every row: the parallel form's task, run on this thread.
    GemmSlabTask(x: x, ldx: ldx, tokens: tokens, w: w, y: y, ldy: ldy, tileRows: tileRows,
                 scratch: scratch, scratchPerThread: scratchCount, perSlab: max(1, w.rows)).run(0)
}

/// Scalar twin of ``sgemmTiledQuantized(x:ldx:tokens:w:y:ldy:tileRows:scratch:scratchCount:)``:
/// each row dequantised by `TensorView.dequantizeRow`, each output a `Float` sum left to right.
/// `rowBuffer` holds `w.cols` floats.
public func gemmReference(
    x: UnsafePointer<Float>, tokens: Int, w: TensorView, y: UnsafeMutablePointer<Float>,
    rowBuffer: UnsafeMutableBufferPointer<Float>
) {
    precondition(rowBuffer.count >= w.cols)
    for r in 0..<w.rows {
        w.dequantizeRow(r, into: rowBuffer)
        for t in 0..<tokens {
            var s: Float = 0
            for j in 0..<w.cols { s += x[t * w.cols + j] * rowBuffer[j] }
            y[t * w.rows + r] = s
        }
    }
}

// MARK: - Tiled product split across a pool

/// ``sgemmTiledQuantized(x:ldx:tokens:w:y:ldy:tileRows:scratch:scratchCount:)`` with `W`'s rows
/// split into one contiguous slab per pool thread; each thread dequantises its own tiles into
/// its own part of `scratch` and calls sgemm for them.
///
/// Why not OpenBLAS's threads: its workers and the pool's spun against each other on the
/// 2-core machine (a quarter of Mamba-130m's prefill went to `sched_yield`), and one tile
/// was dequantised by one thread while the others waited. Call ``setBLASThreadCount(_:)``
/// with 1 so each slab's sgemm runs on its own thread only.
///
/// - Parameters:
///   - scratch: `pool.threadCount` consecutive tiles of `scratchPerThread` floats, each at
///     least ``sgemmScratchCount(cols:tileRows:)``.
/// Every element of `Y` is written; results equal the unsplit call's bit for bit when sgemm's
/// summation order does not depend on `n` (OpenBLAS's does not for a fixed `k`).
public func sgemmTiledQuantizedParallel(
    pool: ThreadPool, x: UnsafePointer<Float>, ldx: Int? = nil, tokens: Int, w: TensorView,
    y: UnsafeMutablePointer<Float>, ldy: Int? = nil,
    tileRows: Int, scratch: UnsafeMutablePointer<Float>, scratchPerThread: Int
) {
    let ldx = ldx ?? w.cols, ldy = ldy ?? w.rows
    precondition(tokens >= 0 && tileRows >= 1 && ldx >= w.cols && ldy >= w.rows)
    if tokens == 0 || w.rows == 0 { return }
    precondition(w.type == .f32 || scratchPerThread >= sgemmScratchCount(cols: w.cols, tileRows: min(tileRows, w.rows)),
                 "\(w.name): scratch of \(scratchPerThread) floats per thread < \(tileRows) × \(w.cols)")
    // Slabs of whole 16-row units, so that threads rarely share a cache line of Y.
    let units = (w.rows + 15) / 16
    let perSlab = (units + pool.threadCount - 1) / pool.threadCount * 16
    let slabs = (w.rows + perSlab - 1) / perSlab
    pool.parallelFor(slabs, GemmSlabTask(
        x: x, ldx: ldx, tokens: tokens, w: w, y: y, ldy: ldy, tileRows: tileRows,
        scratch: scratch, scratchPerThread: scratchPerThread, perSlab: perSlab))
}

/// Slab `i` of ``sgemmTiledQuantizedParallel``: rows `i·perSlab ..< (i+1)·perSlab` of `W`,
/// scratch tile `i`.
struct GemmSlabTask: ParallelTask {
    let x: UnsafePointer<Float>, ldx: Int, tokens: Int, w: TensorView
    let y: UnsafeMutablePointer<Float>, ldy: Int, tileRows: Int
    let scratch: UnsafeMutablePointer<Float>, scratchPerThread: Int, perSlab: Int

    func run(_ i: Int) {
        let end = min(w.rows, (i + 1) * perSlab)
        var r0 = i * perSlab
        if w.type == .f32 {
            sgemm(m: tokens, n: end - r0, k: w.cols, a: x, lda: ldx, b: w.f32 + r0 * w.cols, ldb: w.cols,
                  transposeB: true, c: y + r0, ldc: ldy)
            return
        }
        let tile = scratch + i * scratchPerThread
        while r0 < end {
            let r1 = min(end, r0 + tileRows)
            dequantizeRows(w, rows: r0..<r1, into: tile)
            sgemm(m: tokens, n: r1 - r0, k: w.cols, a: x, lda: ldx, b: tile, ldb: w.cols, transposeB: true,
                  c: y + r0, ldc: ldy)
            r0 = r1
        }
    }
}
