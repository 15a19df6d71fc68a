import COpenBLAS
import Foundation

// Decayed linear attention for one head: the recurrence (decode) and the Lightning Attention
// block (prefill), with their scalar twins for the tests.
//
// State KV (dk × dv, row-major), decay λ = exp(−s). Per token: KV ← λ·KV + kᵀv, o = q·KV.

/// One token: `KV ← λ·KV + kᵀv; out = q·KV`. q, k have `dk` floats, v and out `dv`.
public func linearAttentionStep(
    state kv: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
    v: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, lambda: Float, dk: Int, dv: Int
) {
    for j in 0..<dv { out[j] = 0 }
    for i in 0..<dk {
        let row = kv + i * dv
        let ki = k[i], qi = q[i]
        // Contiguous in j: the compiler vectorises both loops.
        for j in 0..<dv {
            let nv = lambda * row[j] + ki * v[j]
            row[j] = nv
            out[j] += qi * nv
        }
    }
}

/// A block of `t` tokens (Lightning Attention, TransNormerLLM's prefill):
///
///     out  = (Q Kᵀ ⊙ D) V + (Q ⊙ λ^(i+1)) · KV        D[i, j] = λ^(i−j) for i ≥ j, else 0
///     KV  ← λ^t · KV + (K ⊙ λ^(t−1−j))ᵀ V
///
/// Every exponent is between 0 and t, whatever the absolute position: nothing overflows or
/// underflows as the sequence grows. `q`, `k` (t × dk) are scratch and are scaled in place;
/// `v` rows are `ldv` apart, `out` rows `ldo` apart; `scores` holds t × t floats.
public func lightningBlock(
    state kv: UnsafeMutablePointer<Float>, q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>,
    v: UnsafePointer<Float>, ldv: Int, out: UnsafeMutablePointer<Float>, ldo: Int,
    scores: UnsafeMutablePointer<Float>, slope s: Float, t: Int, dk: Int, dv: Int
) {
    let n = Int32(t), nk = Int32(dk), nv = Int32(dv)
    // scores = Q Kᵀ, masked and decayed.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, nk, 1, q, nk, k, nk, 0, scores, n)
    for i in 0..<t {
        for j in 0..<t {
            scores[i * t + j] = j <= i ? scores[i * t + j] * expf(-s * Float(i - j)) : 0
        }
    }
    // out = scores · V
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, nv, n, 1, scores, n, v, Int32(ldv), 0, out, Int32(ldo))
    // out += (Q ⊙ λ^(i+1)) · KV
    for i in 0..<t {
        let f = expf(-s * Float(i + 1))
        for j in 0..<dk { q[i * dk + j] *= f }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, nv, nk, 1, q, nk, kv, nv, 1, out, Int32(ldo))
    // KV ← λ^t KV + (K ⊙ λ^(t−1−j))ᵀ V
    for j in 0..<t {
        let f = expf(-s * Float(t - 1 - j))
        for c in 0..<dk { k[j * dk + c] *= f }
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, nv, n, 1, k, nk, v, Int32(ldv), expf(-s * Float(t)), kv, nv)
}

/// Scalar twin of ``lightningBlock``: the same block, token by token through the recurrence
/// (what the block must equal up to rounding).
public func lightningBlockReference(
    state kv: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
    v: UnsafePointer<Float>, ldv: Int, out: UnsafeMutablePointer<Float>, ldo: Int,
    slope s: Float, t: Int, dk: Int, dv: Int
) {
    let lambda = expf(-s)
    for i in 0..<t {
        linearAttentionStep(state: kv, q: q + i * dk, k: k + i * dk, v: v + i * ldv, out: out + i * ldo, lambda: lambda, dk: dk, dv: dv)
    }
}
