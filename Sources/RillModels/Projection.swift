import Dispatch
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
/// two mat-vec inputs (a fused decode step quantises the next mat-vec's input into one while
/// the current mat-vec still reads the other). Allocated once.
final class Workspace {
    /// `threads` tiles of `tileFloats` floats.
    let tiles: Buffer
    let tileFloats: Int
    /// The input of ``matVec(_:_:_:ws:pool:)``, and one of the two a fused step alternates.
    let input: MatVecInput
    /// The input a fused step prepares while `input` is still being read.
    let nextInput: MatVecInput
    /// Set by a calibration run: every projection's input is added to it.
    var statistics: ActivationStatistics?
    /// Multiply-adds and wall time of the multi-token projections (``gemmRows``) so far: what
    /// `rill bench` divides by the cores' peak rate (its prefill_compute_ratio).
    var gemmMultiplyAdds = 0
    var gemmNanoseconds: UInt64 = 0

    /// `maxCols`: the longest row of any matrix the model multiplies; `threads`: the pool's.
    init(maxCols: Int, threads: Int) {
        tileFloats = gemmTileFloats(maxCols: maxCols)
        tiles = Buffer(tileFloats * max(1, threads))
        input = MatVecInput(maxCols: maxCols)
        nextInput = MatVecInput(maxCols: maxCols)
    }
}

/// A mat-vec's input vector in the form the weights multiply: int8 blocks for int4 weights,
/// int16 blocks for int8 weights (see ``matVec(_:_:_:ws:pool:)``); f32/f16 weights read the
/// floats themselves. The step that computes the vector can quantise it block range by block
/// range in its own tasks (``begin(for:)`` first, on the calling thread), instead of the
/// calling thread quantising it alone between two pool calls.
final class MatVecInput {
    let q8: ActivationsQ8
    let q16: ActivationsQ16

    init(maxCols: Int) {
        q8 = ActivationsQ8(maxCols: maxCols)
        q16 = ActivationsQ16(maxCols: maxCols)
    }

    /// Starts an input of `w.cols` elements for `w`; tasks then call
    /// ``quantize(for:_:elements:)``.
    func begin(for w: TensorView) {
        switch w.type {
        case .int4, .int4k: q8.begin(cols: w.cols)
        case .int8: q16.begin(cols: w.cols)
        case .f32, .f16: break
        }
    }

    /// Elements `elements` of `x` (starting at a multiple of 32, so that a range covers whole
    /// blocks; the vector's end may close a partial one). Disjoint ranges may run at once.
    func quantize(for w: TensorView, _ x: UnsafePointer<Float>, elements: Range<Int>) {
        let bs = QuantType.blockSize
        precondition(elements.lowerBound % bs == 0, "\(w.name): input range \(elements) does not start a block")
        let blocks = (elements.lowerBound / bs)..<((elements.upperBound + bs - 1) / bs)
        switch w.type {
        case .int4, .int4k: q8.quantizeBlocks(x, blocks)
        case .int8: q16.quantizeBlocks(x, blocks)
        case .f32, .f16: break
        }
    }

    /// Rows `rows` of `y = W·x` on the calling thread, with the blocks quantised since
    /// ``begin(for:)`` (`x`, the floats, for float weights).
    func matVec(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
        switch w.type {
        case .int4, .int4k: matVecQ8(w, q8, y, rows: rows)
        case .int8: matVecQ16(w, q16, y, rows: rows)
        case .f32, .f16: RillKernels.matVec(w, x, y, rows: rows)
        }
    }

    /// `y = W·x`, rows split across the pool, with the blocks quantised since ``begin(for:)``
    /// (`x`, the floats, for float weights).
    func matVec(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        switch w.type {
        case .int4, .int4k: matVecParallel(pool: pool, w: w, quantized: q8, y: y)
        case .int8: matVecParallel(pool: pool, w: w, quantized: q16, y: y)
        case .f32, .f16: matVecParallel(pool: pool, w: w, x: x, y: y)
        }
    }
}

/// `y = W·x` for one token, rows split across the pool. Quantised weights multiply quantised
/// activations in integers, one float multiply per block (C kernels, RillKernels' benchmarks):
/// int4 with int8 activations (their error is far below int4's own), int8 with int16
/// activations (int8 activations cost the tiny fixtures 0.3–0.6 points of int8 arg-max
/// agreement; int16's rounding is 256× smaller). f32/f16 stay float.
func matVec(_ w: TensorView, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, ws: Workspace, pool: ThreadPool) {
    ws.statistics?.record(w, x, lda: w.cols, rows: 1)
    ws.input.begin(for: w)
    ws.input.quantize(for: w, x, elements: 0..<w.cols)
    ws.input.matVec(w, x, y, pool: pool)
}

/// `c (t, w.rows) = a (t, w.cols) · Wᵀ` through dequantised tiles and OpenBLAS, rows split
/// over the pool.
func gemmRows(
    _ w: TensorView, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int, t: Int,
    ws: Workspace, pool: ThreadPool
) {
    precondition(ws.tiles.count >= ws.tileFloats * pool.threadCount, "workspace made for fewer threads than the pool")
    ws.statistics?.record(w, a, lda: lda, rows: t)
    let t0 = DispatchTime.now().uptimeNanoseconds
    sgemmTiledQuantizedParallel(
        pool: pool, x: a, ldx: lda, tokens: t, w: w, y: c, ldy: ldc, tileRows: gemmTileRows,
        scratch: ws.tiles.pointer, scratchPerThread: ws.tileFloats)
    ws.gemmNanoseconds &+= DispatchTime.now().uptimeNanoseconds - t0
    ws.gemmMultiplyAdds &+= t * w.rows * w.cols
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
