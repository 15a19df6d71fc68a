import CRillKernels

// The two products of one attention step over a ring of keys and values (SAMBA's K/V rings):
// scores against the keys, then the score-weighted sum of the values, for rows stored as f16
// (`--kv-cache f16`) or f32. A decode step reads every key and value of the window once per
// key/value head, so f16 halves the attention's memory traffic; the products are in f32, in C
// (`window_attention.c`) for the vector f16 → f32 conversion Swift leaves scalar, and, for
// f32 rows, in place of two small sgemm calls that allocated inside OpenBLAS each token.

/// `scores[r·n + j] = scale · Σ_c q[r·dim + c] · Float(keys[j·ldk + c])` for `r < m`, `j < n`.
///
/// Each key row is read once for four query rows (the query heads sharing a key/value head).
/// Any `dim` (the last `dim mod 8` elements take a scalar loop).
public func halfKeyScores(
    q: UnsafePointer<Float>, rows m: Int, dim: Int, keys: UnsafePointer<Float16>, ldk: Int, count n: Int,
    scale: Float, scores: UnsafeMutablePointer<Float>
) {
    precondition(m >= 0 && dim >= 0 && n >= 0 && ldk >= dim)
    // The C side reads the halves through memcpy: any alignment, no aliasing assumptions.
    rill_half_key_scores(q, m, dim, UnsafeRawPointer(keys).assumingMemoryBound(to: UInt16.self), ldk, n, scale, scores)
}

/// `out[r·dim + c] = Σ_{j<n} weights[r·n + j] · Float(values[j·ldv + c])` for `r < m`.
///
/// Each value row is read once for four rows, sixteen lanes at a time. Any `dim`.
public func halfWeightedValues(
    weights: UnsafePointer<Float>, rows m: Int, count n: Int, values: UnsafePointer<Float16>, ldv: Int, dim: Int,
    out: UnsafeMutablePointer<Float>
) {
    precondition(m >= 0 && dim >= 0 && n >= 0 && ldv >= dim)
    rill_half_weighted_values(weights, m, n, UnsafeRawPointer(values).assumingMemoryBound(to: UInt16.self), ldv, dim, out)
}

/// ``halfKeyScores(q:rows:dim:keys:ldk:count:scale:scores:)`` with f32 keys.
public func keyScores(
    q: UnsafePointer<Float>, rows m: Int, dim: Int, keys: UnsafePointer<Float>, ldk: Int, count n: Int,
    scale: Float, scores: UnsafeMutablePointer<Float>
) {
    precondition(m >= 0 && dim >= 0 && n >= 0 && ldk >= dim)
    rill_key_scores(q, m, dim, keys, ldk, n, scale, scores)
}

/// ``halfWeightedValues(weights:rows:count:values:ldv:dim:out:)`` with f32 values.
public func weightedValues(
    weights: UnsafePointer<Float>, rows m: Int, count n: Int, values: UnsafePointer<Float>, ldv: Int, dim: Int,
    out: UnsafeMutablePointer<Float>
) {
    precondition(m >= 0 && dim >= 0 && n >= 0 && ldv >= dim)
    rill_weighted_values(weights, m, n, values, ldv, dim, out)
}

/// Rounds `count` floats to f16 (to nearest, ties to even; beyond ±65504 to ±∞).
public func narrowToHalf(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float16>, count: Int) {
    for i in 0..<count { out[i] = Float16(x[i]) }
}
