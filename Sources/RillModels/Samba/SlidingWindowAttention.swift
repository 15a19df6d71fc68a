import Foundation
import RillKernels

/// Rotary embedding as GPT-NeoX / fla's `RotaryEmbedding` (not interleaved): for pairs
/// (x[i], x[i + D/2]), i < D/2, rotate by angle `pos · invFreq[i]` computed in float32.
/// `invFreq[i] = 1 / base^(2i / D)`.
public func applyRoPE(_ x: UnsafeMutablePointer<Float>, headDim dim: Int, heads: Int, position: Int, invFreq: UnsafePointer<Float>) {
    let half = dim / 2
    let pos = Float(position)
    for i in 0..<half {
        let a = pos * invFreq[i]
        let c = cosf(a), s = sinf(a)
        for h in 0..<heads {
            let p = x + h * dim
            let x1 = p[i], x2 = p[i + half]
            p[i] = x1 * c - x2 * s
            p[i + half] = x2 * c + x1 * s
        }
    }
}

/// Attention of one query position over the ring: keys at positions
/// `max(0, p − W + 1) … p` (those already written), causal softmax scaled by 1/√D, grouped
/// heads (query head h reads key/value head h / (H / Hkv)). Computes the query heads in
/// `headRange` (all by default), so that a pool can split the heads; `scores` holds W floats
/// per head of the range, for this call alone.
///
/// The valid keys always fill slots `0 ..< n` of the ring (before it wraps, positions 0…p sit
/// in slots 0…p; after, every slot is valid), and a softmax-weighted sum does not depend on the
/// order of its terms: so the query heads that share a key/value head take their scores and
/// their output as two products over the ring in slot order (``keyScores(q:rows:dim:keys:ldk:count:scale:scores:)``
/// and ``weightedValues(weights:rows:count:values:ldv:dim:out:)``, or their f16 twins), reading
/// each key and value once per group instead of once per head.
public func windowAttention(
    q: UnsafePointer<Float>, ring: KVRing, position p: Int, heads: Int, kvHeads: Int, headDim dim: Int,
    out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>, headRange: Range<Int>? = nil
) {
    let w = ring.window, kvDim = ring.kvDim
    let n = min(p + 1, w)
    let group = heads / kvHeads
    let scale = 1 / Float(dim).squareRoot()
    let range = headRange ?? 0..<heads
    var h0 = range.lowerBound
    while h0 < range.upperBound {
        let g = h0 / group
        let h1 = min(range.upperBound, (g + 1) * group)
        let m = h1 - h0, kvOff = g * dim
        // S (m × n) = scale · Q (m × D) · K[0..<n]ᵀ, softmax by row, O (m × D) = S · V[0..<n].
        switch ring.storage {
        case let .f32(keys, values):
            keyScores(q: q + h0 * dim, rows: m, dim: dim, keys: keys + kvOff, ldk: kvDim, count: n, scale: scale, scores: scores)
            for r in 0..<m { softmaxInPlace(scores + r * n, count: n) }
            weightedValues(weights: scores, rows: m, count: n, values: values + kvOff, ldv: kvDim, dim: dim, out: out + h0 * dim)
        case let .f16(keys, values):
            halfKeyScores(q: q + h0 * dim, rows: m, dim: dim, keys: keys + kvOff, ldk: kvDim, count: n, scale: scale, scores: scores)
            for r in 0..<m { softmaxInPlace(scores + r * n, count: n) }
            halfWeightedValues(weights: scores, rows: m, count: n, values: values + kvOff, ldv: kvDim, dim: dim, out: out + h0 * dim)
        }
        h0 = h1
    }
}

