import RillFormat
import RillKernels

/// Rows per dequantised weight tile in the chunked GEMMs: 64 rows of a d_model-wide matrix
/// stay in L2 on the boards we target.
let gemmTileRows = 64

/// Scratch floats for one GEMM tile of matrices with rows up to `maxCols` long.
func gemmTileFloats(maxCols: Int) -> Int { sgemmScratchCount(cols: maxCols, tileRows: gemmTileRows) }

/// `c (t, w.rows) = a (t, w.cols) · Wᵀ` through dequantised tiles and OpenBLAS.
func gemmRows(
    _ w: TensorView, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int, t: Int,
    tile: Buffer, pool: ThreadPool
) {
    sgemmTiledQuantized(
        x: a, ldx: lda, tokens: t, w: w, y: c, ldy: ldc, tileRows: gemmTileRows, scratch: tile.pointer,
        scratchCount: tile.count)
}

/// `out (T, rows) = x (T, cols) · Wᵀ (+ bias)`: a mat-vec for one token, a tiled GEMM for more.
func project(
    _ w: TensorView, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, t: Int,
    bias: FloatTensor?, tile: Buffer, pool: ThreadPool, lda: Int? = nil
) {
    if t == 1 {
        matVecParallel(pool: pool, w: w, x: x, y: out)
    } else {
        gemmRows(w, a: x, lda: lda ?? w.cols, c: out, ldc: w.rows, t: t, tile: tile, pool: pool)
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
