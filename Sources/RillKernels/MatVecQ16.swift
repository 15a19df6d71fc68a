import CRillKernels
import RillFormat

// The int16-activation mat-vec for int8 weights: x is quantised once per mat-vec to int16
// blocks of 32 with a scale each; every block of every row is then an exact integer dot
// product (vpmaddwd / vpdpwssd / smlal) with one float multiply. int8 activations (MatVecQ8)
// are faster still but their rounding cost the tiny fixtures' int8 arg-max agreement 0.3–0.6
// points (mamba-tiny 99.3 → 99.0 %, samba-tiny 97.5 → 96.6 %); int16's is 256× smaller and
// left every golden test where float activations had it.

/// int16 activation blocks: `d = max|x| / 32767`, `q = round(x / d)` (ties to even).
public enum Int16ActivationQuant: ActivationQuant {
    public static func quantize(
        _ x: UnsafePointer<Float>, count: Int, quants: UnsafeMutablePointer<Int16>, scales: UnsafeMutablePointer<Float>
    ) {
        rill_quantize_q16(x, count, quants, scales)
    }
}

/// Activations quantised to int16 blocks of 32 (see ``QuantisedActivations``).
public typealias ActivationsQ16 = QuantisedActivations<Int16ActivationQuant>

/// `y[r] = Σ_b (d_w[r, b] · d_x[b]) · Σ_{i<32} q_w[r, b, i] · q_x[b, i]` for `r` in `rows`:
/// int8 weights `W (rows, cols)` times the ``ActivationsQ16`` of `x (cols,)`.
///
/// Block sums are exact 32-bit integers; blocks add up in `Float`. The error against the
/// exact `W·x` adds the rounding of `x` (≤ `d_x / 2` per element, `d_x = max|x_block| / 32767`)
/// to that of the weights. Precondition: `x.cols == w.cols`, `w` is int8, `rows ⊆ 0..<w.rows`.
public func matVecQ16(_ w: TensorView, _ x: ActivationsQ16, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    precondition(w.type == .int8 && x.cols == w.cols, "\(w.name): \(w.type) × \(x.cols) int16 activations")
    precondition(rows.lowerBound >= 0 && rows.upperBound <= w.rows, "\(w.name): rows \(rows) outside 0..<\(w.rows)")
    if rows.isEmpty { return }
    // The view checked at open that every group of the tensor lies inside the mapping.
    rill_matvec_q8_q16(w.base.assumingMemoryBound(to: UInt8.self), x.quants, x.scales,
                       w.layout.blocksPerRow, rows.lowerBound, rows.upperBound, y)
}

/// Scalar twin of ``matVecQ16(_:_:_:rows:)``: per block an `Int32` sum of products, times
/// `d_w · d_x`, blocks summed left to right in `Float`.
public func matVecQ16Reference(_ w: TensorView, _ x: ActivationsQ16, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    precondition(w.type == .int8 && x.cols == w.cols, "\(w.name): \(w.type) × \(x.cols) int16 activations")
    precondition(rows.lowerBound >= 0 && rows.upperBound <= w.rows, "\(w.name): rows \(rows) outside 0..<\(w.rows)")
    let bs = QuantType.blockSize
    let nb = w.layout.blocksPerRow
    for r in rows {
        var sum: Float = 0
        for b in 0..<nb {
            var isum: Int32 = 0
            let (q, d) = w.block(row: r, block: b)
            for i in 0..<bs {
                isum += Int32(q.load(fromByteOffset: i, as: Int8.self)) * Int32(x.quants[b * bs + i])
            }
            sum += Float(isum) * (d * x.scales[b])
        }
        y[r] = sum
    }
}

/// `y = W·x` for int8 `W` through int16 activations: quantises `x` into `scratch` once, on the
/// calling thread, then splits the rows across `pool` as ``matVecParallel(pool:w:x:y:)``
/// does. Bitwise equal to the serial ``matVecQ16(_:_:_:rows:)`` on the same activations.
public func matVecParallel(
    pool: ThreadPool, w: TensorView, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, scratch: ActivationsQ16
) {
    precondition(w.type == .int8, "\(w.name): int16 activations need int8 weights, not \(w.type)")
    scratch.quantize(x, cols: w.cols)
    pool.parallelRows(total: w.rows, alignment: 16, MatVecQ16Task(w: w, x: scratch, y: y))
}

/// ``matVecParallel(pool:w:x:y:scratch:)-(_,_,_,_,ActivationsQ16)`` on activations that are
/// already quantised (``ActivationsQ16/begin(cols:)``, then
/// ``ActivationsQ16/quantizeBlocks(_:_:)`` by the tasks that produced them).
public func matVecParallel(pool: ThreadPool, w: TensorView, quantized x: ActivationsQ16, y: UnsafeMutablePointer<Float>) {
    precondition(w.type == .int8, "\(w.name): int16 activations need int8 weights, not \(w.type)")
    pool.parallelRows(total: w.rows, alignment: 16, MatVecQ16Task(w: w, x: x, y: y))
}

/// ``matVecQ16(_:_:_:rows:)`` over one chunk of rows.
struct MatVecQ16Task: ParallelRowsTask {
    let w: TensorView
    let x: ActivationsQ16
    let y: UnsafeMutablePointer<Float>
    func run(rows: Range<Int>) { matVecQ16(w, x, y, rows: rows) }
}
