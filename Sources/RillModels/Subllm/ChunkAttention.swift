import RillKernels

/// Rows of one chunk a causal attention pass takes at once: their scores against every key
/// (rows × positions floats per head) are scratch reserved with the context, and each head's
/// keys and values are read once per tile instead of once per row.
let attentionTileRows = 16

/// Causal attention of a tile of rows whose keys and values are already in the cache: row i
/// (query at `q + i·ldq`) attends to slots `0…slotBase + i` and writes its heads to
/// `out + i·ldo`. Heads are split over the pool; head h works in `scores + h·tileStride·capacity`
/// and in `qScratch + h·tileStride·dim` (`rows ≤ tileStride`, the rows the scratch was made for).
///
/// Row by row this is ``windowAttention(q:ring:position:heads:kvHeads:headDim:out:scores:headRange:)``
/// at position `slotBase + i` (the same products summed in the same order; a row's scores past
/// its position are set to 0 after its softmax, which adds exact zeros to the value sums); the
/// point is the memory traffic: a prefill chunk of 128 rows at position 2,048 read each head's
/// 2,048 keys and values 128 times, from memory, four kilobytes apart. LLaMA-1.3B int4, 2,048
/// prompt tokens on 2 cores: 24.5 → 48 tok/s.
struct ChunkAttentionTask: ParallelRowsTask {
    let q: UnsafePointer<Float>, ldq: Int
    let cache: KVRing
    let slotBase: Int, rows: Int
    let heads: Int, kvHeads: Int, headDim: Int
    let out: UnsafeMutablePointer<Float>, ldo: Int
    let scores: UnsafeMutablePointer<Float>, capacity: Int
    let qScratch: UnsafeMutablePointer<Float>
    let tileStride: Int

    func run(rows range: Range<Int>) {
        let dim = headDim, kvDim = cache.kvDim, group = heads / kvHeads
        precondition(rows <= tileStride && slotBase + rows <= capacity, "attention tile beyond its scratch")
        let n = slotBase + rows  // the last row's keys
        let scale = 1 / Float(dim).squareRoot()
        for h in range {
            let s = scores + h * tileStride * capacity, qh = qScratch + h * tileStride * dim
            for i in 0..<rows { (qh + i * dim).update(from: q + i * ldq + h * dim, count: dim) }
            let kvOff = (h / group) * dim
            switch cache.storage {
            case let .f32(keys, _):
                keyScores(q: qh, rows: rows, dim: dim, keys: keys + kvOff, ldk: kvDim, count: n, scale: scale, scores: s)
            case let .f16(keys, _):
                halfKeyScores(q: qh, rows: rows, dim: dim, keys: keys + kvOff, ldk: kvDim, count: n, scale: scale, scores: s)
            }
            for i in 0..<rows {
                let seen = slotBase + i + 1
                softmaxInPlace(s + i * n, count: seen)
                (s + i * n + seen).update(repeating: 0, count: n - seen)
            }
            // The outputs go to the query scratch (no longer needed), then to their rows.
            switch cache.storage {
            case let .f32(_, values):
                weightedValues(weights: s, rows: rows, count: n, values: values + kvOff, ldv: kvDim, dim: dim, out: qh)
            case let .f16(_, values):
                halfWeightedValues(weights: s, rows: rows, count: n, values: values + kvOff, ldv: kvDim, dim: dim, out: qh)
            }
            for i in 0..<rows { (out + i * ldo + h * dim).update(from: qh + i * dim, count: dim) }
        }
    }
}
