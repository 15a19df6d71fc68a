import RillFormat

// Mat-vec split by rows over a ThreadPool. Each row is computed by the same serial kernel with
// the same arithmetic, so the result is bitwise equal to the single-threaded call.

/// `y = W·x` for all `w.rows` rows (see ``matVec(_:_:_:rows:)``), rows split across `pool` in
/// chunks whose bounds are multiples of 16 rows, so no two threads write one cache line of `y`.
/// Bitwise equal to `matVec(w, x, y, rows: 0..<w.rows)`. Allocates nothing.
public func matVecParallel(pool: ThreadPool, w: TensorView, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
    pool.parallelRows(total: w.rows, alignment: 16, MatVecTask(w: w, x: x, y: y))
}

/// `y = W·x` through int8 activations (see ``matVecQ8(_:_:_:rows:)``): quantises `x` into
/// `scratch` once, on the calling thread, then splits the rows across `pool` as
/// ``matVecParallel(pool:w:x:y:)`` does. Bitwise equal to the serial `matVecQ8` on the same
/// quantised activations. `w` must be int8 or int4 and `scratch.maxCols ≥ w.cols`.
public func matVecParallel(
    pool: ThreadPool, w: TensorView, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, scratch: ActivationsQ8
) {
    precondition(w.type.isBlockQuantised, "\(w.name): int8 activations need int8 or int4 weights, not \(w.type)")
    scratch.quantize(x, cols: w.cols)
    pool.parallelRows(total: w.rows, alignment: 16, MatVecQ8Task(w: w, x: scratch, y: y))
}

/// ``matVecParallel(pool:w:x:y:scratch:)`` on activations that are already quantised
/// (``ActivationsQ8/begin(cols:)``, then ``ActivationsQ8/quantizeBlocks(_:_:)`` by the tasks
/// that produced them).
public func matVecParallel(pool: ThreadPool, w: TensorView, quantized x: ActivationsQ8, y: UnsafeMutablePointer<Float>) {
    pool.parallelRows(total: w.rows, alignment: 16, MatVecQ8Task(w: w, x: x, y: y))
}

/// ``matVec(_:_:_:rows:)`` over one chunk of rows.
struct MatVecTask: ParallelRowsTask {
    let w: TensorView
    let x: UnsafePointer<Float>
    let y: UnsafeMutablePointer<Float>
    func run(rows: Range<Int>) { matVec(w, x, y, rows: rows) }
}

/// ``matVecQ8(_:_:_:rows:)`` over one chunk of rows.
struct MatVecQ8Task: ParallelRowsTask {
    let w: TensorView
    let x: ActivationsQ8
    let y: UnsafeMutablePointer<Float>
    func run(rows: Range<Int>) { matVecQ8(w, x, y, rows: rows) }
}
