import Foundation

/// SUBLLM's full-prompt forward pass in float64, written from the reference module's maths as
/// it does it — not as Rill does it: each bracket *gathers* the rows whose score is positive
/// into a shorter sequence, runs its blocks with dense causal attention over that sequence,
/// RoPE at the rows' indices in the sequence the bracket *received* (original positions at
/// the outermost bracket), then *scatters* them back (`w·inner + (1−w)·outer`, then `outer + (up − outer)·b`). Rill instead
/// keeps a cache per block and a position counter per bracket; agreement between the two on
/// random weights is what shows that counting gives the full-prompt positions.
struct SubllmReference {
    struct Block {
        var attnNorm: [Double], q: [Double], k: [Double], v: [Double], o: [Double]
        var qBias: [Double]?, kBias: [Double]?, vBias: [Double]?, oBias: [Double]?
        var ffnNorm: [Double], w12: [Double], w3: [Double]
    }
    var d: Int, heads: Int, kvHeads: Int, headDim: Int, ffn: Int, vocab: Int
    var structure: String
    var eps: Double
    /// RoPE inverse frequencies (D/2).
    var invFreq: [Double]
    var embedding: [Double], blocks: [Block], scorers: [[Double]], bypasses: [[Double]]
    var norm: [Double], head: [Double]

    /// What the pass kept: per bracket (in `(` order), the original positions of the tokens
    /// it kept (empty when its enclosing bracket kept nothing).
    struct Trace { var kept: [[Int]] }

    /// `θ^(−2i/D)`, unscaled RoPE.
    static func plainInvFreq(theta: Double, headDim: Int) -> [Double] {
        (0..<(headDim / 2)).map { pow(theta, -Double(2 * $0) / Double(headDim)) }
    }

    func forward(_ ids: [Int]) -> (logits: [[Double]], trace: Trace) {
        var x = ids.map { Array(embedding[($0 * d)..<(($0 + 1) * d)]) }
        var origin = Array(ids.indices)  // original position of each current row
        var positions = Array(ids.indices)  // RoPE position of each current row
        var stack: [(outer: [[Double]], origin: [Int], positions: [Int], idx: [Int], w: [Double])] = []
        var layer = 0, bracket = 0
        var openBrackets: [Int] = []
        var trace = Trace(kept: [])
        for ch in structure {
            switch ch {
            case "T":
                if !x.isEmpty { x = block(blocks[layer], x, positions: positions) }
                layer += 1
            case "(":
                let s = scorers[bracket]
                var idx: [Int] = [], w: [Double] = []
                for (r, row) in x.enumerated() {
                    let score = zip(s, row).reduce(0) { $0 + $1.0 * $1.1 }
                    if score > 0 { idx.append(r); w.append(min(score, 1)) }
                }
                stack.append((x, origin, positions, idx, w))
                trace.kept.append(idx.map { origin[$0] })
                x = idx.map { x[$0] }
                origin = idx.map { origin[$0] }
                positions = idx
                openBrackets.append(bracket)
                bracket += 1
            default:
                let (outer, outerOrigin, outerPositions, idx, w) = stack.removeLast()
                let b = bypasses[openBrackets.removeLast()]
                var result = outer
                for (j, r) in idx.enumerated() {
                    for e in 0..<d {
                        let up = x[j][e] * w[j] + outer[r][e] * (1 - w[j])
                        result[r][e] = outer[r][e] + (up - outer[r][e]) * b[e]
                    }
                }
                x = result
                origin = outerOrigin
                positions = outerPositions
            }
        }
        let logits = x.map { row -> [Double] in
            let n = rmsNorm(row, norm)
            return linear(head, n, rows: vocab)
        }
        return (logits, trace)
    }

    /// One pre-norm block over a whole sequence: dense causal attention, row p rotated at
    /// `positions[p]`.
    func block(_ b: Block, _ x: [[Double]], positions: [Int]) -> [[Double]] {
        let n = x.count, qd = heads * headDim, kvd = kvHeads * headDim
        let normed = x.map { rmsNorm($0, b.attnNorm) }
        var q = normed.map { linear(b.q, $0, rows: qd, bias: b.qBias) }
        var k = normed.map { linear(b.k, $0, rows: kvd, bias: b.kBias) }
        let v = normed.map { linear(b.v, $0, rows: kvd, bias: b.vBias) }
        for p in 0..<n {
            q[p] = rope(q[p], heads: heads, position: positions[p])
            k[p] = rope(k[p], heads: kvHeads, position: positions[p])
        }
        let group = heads / kvHeads
        var out = x
        for p in 0..<n {
            var attn = [Double](repeating: 0, count: qd)
            for h in 0..<heads {
                let g = h / group
                var s = [Double](repeating: 0, count: p + 1)
                for j in 0...p {
                    var acc = 0.0
                    for e in 0..<headDim { acc += q[p][h * headDim + e] * k[j][g * headDim + e] }
                    s[j] = acc / Double(headDim).squareRoot()
                }
                let mx = s.max()!
                s = s.map { exp($0 - mx) }
                let z = s.reduce(0, +)
                for j in 0...p { for e in 0..<headDim { attn[h * headDim + e] += s[j] / z * v[j][g * headDim + e] } }
            }
            let o = linear(b.o, attn, rows: d, bias: b.oBias)
            for e in 0..<d { out[p][e] += o[e] }
        }
        for p in 0..<n {
            let h = linear(b.w12, rmsNorm(out[p], b.ffnNorm), rows: 2 * ffn)
            let u = (0..<ffn).map { (i: Int) -> Double in h[i] / (1 + exp(-h[i])) * h[ffn + i] }
            let y = linear(b.w3, u, rows: d)
            for e in 0..<d { out[p][e] += y[e] }
        }
        return out
    }

    func rmsNorm(_ x: [Double], _ w: [Double]) -> [Double] {
        let r = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + eps).squareRoot()
        return zip(x, w).map { $0 * r * $1 }
    }

    func linear(_ w: [Double], _ x: [Double], rows: Int, bias: [Double]? = nil) -> [Double] {
        var y = [Double](repeating: 0, count: rows)
        let n = x.count
        for r in 0..<rows {
            var acc = bias?[r] ?? 0
            for j in 0..<n { acc += w[r * n + j] * x[j] }
            y[r] = acc
        }
        return y
    }

    /// rotate_half RoPE: pairs (i, i + D/2) rotated by `position · invFreq[i]`.
    func rope(_ x: [Double], heads: Int, position: Int) -> [Double] {
        var y = x
        let half = headDim / 2
        for h in 0..<heads {
            for i in 0..<half {
                let a = Double(position) * invFreq[i]
                let x1 = x[h * headDim + i], x2 = x[h * headDim + i + half]
                y[h * headDim + i] = x1 * cos(a) - x2 * sin(a)
                y[h * headDim + i + half] = x2 * cos(a) + x1 * sin(a)
            }
        }
        return y
    }
}
