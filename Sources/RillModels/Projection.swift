import RillFormat
import RillKernels

/// Rows per dequantised weight tile in the chunked GEMMs: 64 rows of a d_model-wide matrix
/// stay in L2 on the boards we target.
let gemmTileRows = 64

/// Scratch floats for one GEMM tile of matrices with rows up to `maxCols` long.
func gemmTileFloats(maxCols: Int) -> Int { sgemmScratchCount(cols: maxCols, tileRows: gemmTileRows) }

/// Scratch of the projections, one per context: a dequantised GEMM tile and the int8
/// activations of a mat-vec. Allocated once.
final class Workspace {
    let tile: Buffer
    let q8: ActivationsQ8

    /// `maxCols`: the longest row of any matrix the model multiplies.
    init(maxCols: Int) {
        tile = Buffer(gemmTileFloats(maxCols: maxCols))
        q8 = ActivationsQ8(maxCols: maxCols)
    }
}

/// `y = W·x` for one token, rows split across the pool. int4 weights go through int8
/// activations (integer block dots, one float multiply per block: 1.4–1.9× faster than
/// dequantising to float, measured in RillKernels); their error is far below int4's own.
/// int8 weights keep float activations: the extra rounding of x cost TransNormer-tiny its
/// 99 % arg-max agreement (98.8 % in step mode with it).
func matVec(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, ws: Workspace, pool: ThreadPool) {
    if w.type == .int4 {
        matVecParallel(pool: pool, w: w, x: x, y: y, scratch: ws.q8)
    } else {
        matVecParallel(pool: pool, w: w, x: x, y: y)
    }
}

/// `c (t, w.rows) = a (t, w.cols) · Wᵀ` through dequantised tiles and OpenBLAS.
func gemmRows(
    _ w: TensorView, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int, t: Int,
    ws: Workspace, pool: ThreadPool
) {
    sgemmTiledQuantized(
        x: a, ldx: lda, tokens: t, w: w, y: c, ldy: ldc, tileRows: gemmTileRows, scratch: ws.tile.pointer,
        scratchCount: ws.tile.count)
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
