import Foundation

/// The K/V ring buffer of one sliding-window attention layer: the last W positions' keys and
/// values (f32), slot `p mod W` for position p. Its size is fixed whatever the sequence length.
public final class KVRing {
    public let window: Int
    public let kvDim: Int
    /// (W, kvDim)
    public let keys: UnsafeMutablePointer<Float>
    public let values: UnsafeMutablePointer<Float>

    public init(window: Int, kvDim: Int) {
        self.window = window
        self.kvDim = kvDim
        keys = .allocate(capacity: window * kvDim)
        values = .allocate(capacity: window * kvDim)
        reset()
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    public func reset() {
        keys.initialize(repeating: 0, count: window * kvDim)
        values.initialize(repeating: 0, count: window * kvDim)
    }

    var bytes: Int { 2 * window * kvDim * 4 }
}

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
/// heads (query head h reads key/value head h / (H / Hkv)). `scores` holds W floats.
public func windowAttention(
    q: UnsafePointer<Float>, ring: KVRing, position p: Int, heads: Int, kvHeads: Int, headDim dim: Int,
    out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>
) {
    let w = ring.window, kvDim = ring.kvDim
    let first = max(0, p - w + 1)
    let n = p - first + 1
    let group = heads / kvHeads
    let scale = 1 / Float(dim).squareRoot()
    for h in 0..<heads {
        let qh = q + h * dim
        let kvOff = (h / group) * dim
        var maxScore = -Float.infinity
        for j in 0..<n {
            let slot = (first + j) % w
            let k = ring.keys + slot * kvDim + kvOff
            var dot: Float = 0
            for c in 0..<dim { dot += qh[c] * k[c] }
            let s = dot * scale
            scores[j] = s
            maxScore = max(maxScore, s)
        }
        var sum: Float = 0
        for j in 0..<n {
            let e = expf(scores[j] - maxScore)
            scores[j] = e
            sum += e
        }
        let o = out + h * dim
        for c in 0..<dim { o[c] = 0 }
        let inv = 1 / sum
        for j in 0..<n {
            let slot = (first + j) % w
            let v = ring.values + slot * kvDim + kvOff
            let a = scores[j] * inv
            for c in 0..<dim { o[c] += a * v[c] }
        }
    }
}
