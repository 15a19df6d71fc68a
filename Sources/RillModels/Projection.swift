import RillFormat
import RillKernels

/// Rows per dequantised weight tile in the chunked GEMMs. Each tile is one sgemm, which packs
/// the chunk's activations again: Mamba-130m int8 prefill (512 tokens, 2 threads) ran 244,
/// 288 and 304 tok/s with 64, 128 and 256 rows (chunk 128). 256 rows of the widest matrix
/// (2,816 columns) are 2.9 MB per thread.
let gemmTileRows = 256

/// Positions whose logits a prefill computes at once when all are wanted: the logits buffer
/// is `logitRows × vocab` floats whatever the chunk (128 × 50,280 floats would be 26 MB of
/// resident memory for Mamba-130m; 16 rows are 3 MB and keep the head a GEMM).
let logitRows = 16

/// Scratch floats for one GEMM tile of matrices with rows up to `maxCols` long.
func gemmTileFloats(maxCols: Int) -> Int { sgemmScratchCount(cols: maxCols, tileRows: gemmTileRows) }

/// Scratch of the projections, one per context: a dequantised GEMM tile per pool thread and
/// the quantised activations of a mat-vec. Allocated once.
final class Workspace {
    /// `threads` tiles of `tileFloats` floats.
    let tiles: Buffer
    let tileFloats: Int
    let q8: ActivationsQ8
    let q16: ActivationsQ16

    /// `maxCols`: the longest row of any matrix the model multiplies; `threads`: the pool's.
    init(maxCols: Int, threads: Int) {
        tileFloats = gemmTileFloats(maxCols: maxCols)
        tiles = Buffer(tileFloats * max(1, threads))
        q8 = ActivationsQ8(maxCols: maxCols)
        q16 = ActivationsQ16(maxCols: maxCols)
    }
}

/// `y = W·x` for one token, rows split across the pool. Quantised weights multiply quantised
/// activations in integers, one float multiply per block (C kernels, RillKernels' benchmarks):
/// int4 with int8 activations (their error is far below int4's own), int8 with int16
/// activations (int8 activations cost the tiny fixtures 0.3–0.6 points of int8 arg-max
/// agreement; int16's rounding is 256× smaller). f32/f16 stay float.
func matVec(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, ws: Workspace, pool: ThreadPool) {
    switch w.type {
    case .int4: matVecParallel(pool: pool, w: w, x: x, y: y, scratch: ws.q8)
    case .int8: matVecParallel(pool: pool, w: w, x: x, y: y, scratch: ws.q16)
    case .f32, .f16: matVecParallel(pool: pool, w: w, x: x, y: y)
    }
}

/// `c (t, w.rows) = a (t, w.cols) · Wᵀ` through dequantised tiles and OpenBLAS, rows split
/// over the pool.
func gemmRows(
    _ w: TensorView, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int, t: Int,
    ws: Workspace, pool: ThreadPool
) {
    precondition(ws.tiles.count >= ws.tileFloats * pool.threadCount, "workspace made for fewer threads than the pool")
    sgemmTiledQuantizedParallel(
        pool: pool, x: a, ldx: lda, tokens: t, w: w, y: c, ldy: ldc, tileRows: gemmTileRows,
        scratch: ws.tiles.pointer, scratchPerThread: ws.tileFloats)
}

/// `out (T, rows) = x (T, cols) · Wᵀ (+ bias)`: a mat-vec for one token, a tiled GEMM for more.
func project(
    _ w: TensorView, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, t: Int,
    bias: FloatTensor?, ws: Workspace, pool: ThreadPool, lda: Int? = nil
) {
    if t == 1 {
        matVec(w, x, out, ws: ws, pool: pool)
    } else {
        gemmRows(w, a: x, lda: lda ?? w.cols, c: out, ldc: w.rows, t: t, ws: ws, pool: pool)
    }
    if let bias {
        for i in 0..<t { addInPlace(out + i * w.rows, bias.pointer, count: w.rows) }
    }
}

/// `y += x` (n floats).
@inline(__always) func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int) {
    add(UnsafePointer(y), x, y, count: n)
}

/// `y *= x` (n floats).
@inline(__always) func mulInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int) {
    mul(UnsafePointer(y), x, y, count: n)
}

/// `y *= s` (n floats).
func scaleInPlace(_ y: UnsafeMutablePointer<Float>, by s: Float, count n: Int) {
    for i in 0..<n { y[i] *= s }
}
