import Foundation
import RillFormat
import RillKernels

/// One sequence on a ``TransNormerModel``: per layer and head the KV state (dk × hd, f32;
/// dk = 2·hd with LRPE), and scratch for a block of up to `chunk` tokens.
final class TransNormerContext: ChunkedContext {
    let model: TransNormerModel
    let chunk: Int
    /// Per layer (H, dk, hd).
    let kv: [Buffer]
    /// (T, d) residual, normed, sublayer output.
    let x: Buffer, xn: Buffer, out: Buffer
    /// (T, 4h) q, k, v, u.
    let qkvu: Buffer
    /// (T, h) attention output.
    let attn: Buffer
    /// (T, g) twice, for the GLU.
    let g1: Buffer, g2: Buffer
    /// Block scratch: Q' and K' (T, dk) of one head, or in decode (H, dk), one row per head;
    /// scores (T, T).
    let qh: Buffer, kh: Buffer, scores: Buffer
    let ws: Workspace
    /// (T, V)
    let logits: Buffer
    private(set) var position = 0
    let stepToken = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    init(model: TransNormerModel, chunk: Int, threads: Int) {
        self.model = model
        self.chunk = max(1, chunk)
        let c = model.c, t = self.chunk
        let hd = c.headDim
        kv = c.lrpeLayers.map { Buffer(c.numHeads * ($0 ? 2 * hd : hd) * hd) }
        x = Buffer(t * c.embedDim)
        xn = Buffer(t * c.embedDim)
        out = Buffer(t * c.embedDim)
        qkvu = Buffer(t * 4 * c.hiddenDim)
        attn = Buffer(t * c.hiddenDim)
        g1 = Buffer(t * c.gluDim)
        g2 = Buffer(t * c.gluDim)
        qh = Buffer(max(t, c.numHeads) * 2 * hd)
        kh = Buffer(max(t, c.numHeads) * 2 * hd)
        scores = Buffer(t * t)
        ws = Workspace(maxCols: max(c.embedDim, c.hiddenDim, c.gluDim), threads: threads)
        logits = Buffer(min(t, logitRows) * c.vocabSize)
    }

    deinit { stepToken.deallocate() }

    var stateBytes: Int { kv.reduce(0) { $0 + $1.count * 4 } }

    var stateBytesReadPerStep: Int { stateBytes }

    func reset() {
        for b in kv { b.zero() }
        position = 0
    }

    func setPosition(_ p: Int) { position = p }

    func stateBuffers() -> [StateBuffer] { kv.map { .f32($0.buffer) } }

    var head: TensorView { model.head }
    var headWorkspace: Workspace { ws }
    var vocabSize: Int { model.c.vocabSize }

    func forward(_ tokens: UnsafeBufferPointer<Int32>, pool: ThreadPool) {
        let m = model, c = m.c, d = c.embedDim, t = tokens.count
        for i in 0..<t {
            let row = x.pointer + i * d
            m.embedding.dequantizeRow(Int(tokens[i]), into: UnsafeMutableBufferPointer(start: row, count: d))
            scaleInPlace(row, by: m.embedScale, count: d)
        }
        for (l, layer) in m.layers.enumerated() {
            // Token mixer.
            for i in 0..<t { simpleRMSNorm(x.pointer + i * d, eps: c.normEpsilon, xn.pointer + i * d, count: d) }
            project(layer.qkvu, xn.pointer, qkvu.pointer, t: t, bias: nil, ws: ws, pool: pool)
            linearAttention(layer: l, t: t, pool: pool)
            let h = c.hiddenDim
            for i in 0..<t {
                let o = attn.pointer + i * h
                simpleRMSNorm(o, eps: c.normEpsilon, o, count: h)
                mulInPlace(o, qkvu.pointer + i * 4 * h + 3 * h, count: h)  // gate u
            }
            project(layer.outProj, attn.pointer, out.pointer, t: t, bias: nil, ws: ws, pool: pool)
            addInPlace(x.pointer, out.pointer, count: t * d)
            // Channel mixer (GLU without activation).
            for i in 0..<t { simpleRMSNorm(x.pointer + i * d, eps: c.normEpsilon, xn.pointer + i * d, count: d) }
            project(layer.l1, xn.pointer, g1.pointer, t: t, bias: nil, ws: ws, pool: pool)
            project(layer.l2, xn.pointer, g2.pointer, t: t, bias: nil, ws: ws, pool: pool)
            mulInPlace(g1.pointer, g2.pointer, count: t * c.gluDim)
            project(layer.l3, g1.pointer, out.pointer, t: t, bias: nil, ws: ws, pool: pool)
            addInPlace(x.pointer, out.pointer, count: t * d)
        }
        for i in 0..<t { simpleRMSNorm(x.pointer + i * d, eps: c.normEpsilon, xn.pointer + i * d, count: d) }
        position += t
    }

    /// Decayed linear attention for the `t` tokens in `qkvu` into `attn` (T, h), updating the
    /// layer's KV state. One token: the recurrence, heads split over the pool (each head's
    /// state is read and written once per token: 12.5 MB for TransNormerLLM-385M, which one
    /// thread alone took 4 % of decode time to stream). More: the Lightning Attention block
    /// algorithm with relative decays only (λ^(i+1), λ^(i−j), λ^(T−1−j), λ^T with exponents
    /// ≤ T), so nothing depends on the absolute position except the LRPE angles.
    private func linearAttention(layer l: Int, t: Int, pool: ThreadPool) {
        let c = model.c, layer = model.layers[l]
        let heads = c.numHeads, hd = c.headDim, h = c.hiddenDim
        let input = HeadInputs(
            qkvu: qkvu.pointer, hiddenDim: h, headDim: hd, theta: layer.theta?.pointer, position: position)
        if t == 1 {
            pool.parallelRows(total: heads, alignment: 1, DecodeHeadsTask(
                input: input, state: kv[l].pointer, slope: layer.slope.pointer, qh: qh.pointer, kh: kh.pointer,
                out: attn.pointer))
            return
        }
        // q, k = SiLU(q), SiLU(k) in place.
        for i in 0..<t {
            silu(input.q + i * input.rowStride, count: h)
            silu(input.k + i * input.rowStride, count: h)
        }
        let dk = input.dk
        for hh in 0..<heads {
            for i in 0..<t { input.rotate(head: hh, token: i, q: qh.pointer + i * dk, k: kh.pointer + i * dk) }
            lightningBlock(
                state: kv[l].pointer + hh * dk * hd, q: qh.pointer, k: kh.pointer, v: input.v + hh * hd,
                ldv: input.rowStride, out: attn.pointer + hh * hd, ldo: h, scores: scores.pointer,
                slope: layer.slope.pointer[hh], t: t, dk: dk, dv: hd)
        }
    }
}

/// Where a layer's q, k, v of a block lie in the (T, 4h) qkvu buffer, and its LRPE.
struct HeadInputs {
    let qkvu: UnsafeMutablePointer<Float>
    let hiddenDim: Int, headDim: Int
    /// (H·hd) LRPE angles per position step, or nil for a layer without LRPE.
    let theta: UnsafePointer<Float>?
    /// The absolute position of the block's first token.
    let position: Int

    var rowStride: Int { 4 * hiddenDim }
    var q: UnsafeMutablePointer<Float> { qkvu }
    var k: UnsafeMutablePointer<Float> { qkvu + hiddenDim }
    var v: UnsafeMutablePointer<Float> { qkvu + 2 * hiddenDim }
    /// Key width per head: 2·hd with LRPE (cos and sin halves), else hd.
    var dk: Int { theta == nil ? headDim : 2 * headDim }

    /// Q' and K' (dk each) of head `hh` at token `i` of the block: q, k with LRPE applied.
    func rotate(head hh: Int, token i: Int, q qd: UnsafeMutablePointer<Float>, k kd: UnsafeMutablePointer<Float>) {
        let hd = headDim
        let qi = q + i * rowStride + hh * hd, ki = k + i * rowStride + hh * hd
        if let theta {
            // Angles in float32 as the reference computes them: θ · Float(pos).
            let pos = Float(position + i)
            for j in 0..<hd {
                let a = theta[hh * hd + j] * pos
                let cs = cosf(a), sn = sinf(a)
                qd[j] = qi[j] * cs
                qd[hd + j] = qi[j] * sn
                kd[j] = ki[j] * cs
                kd[hd + j] = ki[j] * sn
            }
        } else {
            qd.update(from: qi, count: hd)
            kd.update(from: ki, count: hd)
        }
    }
}

/// One decode token's linear attention for a range of heads: SiLU of the head's q and k,
/// LRPE, then the recurrence on the head's state. Heads touch disjoint slices of qkvu, the
/// state, the Q'/K' rows and the output.
struct DecodeHeadsTask: ParallelRowsTask {
    let input: HeadInputs
    /// (H, dk, hd)
    let state: UnsafeMutablePointer<Float>
    let slope: UnsafePointer<Float>
    /// (H, dk) each.
    let qh: UnsafeMutablePointer<Float>, kh: UnsafeMutablePointer<Float>
    /// (h)
    let out: UnsafeMutablePointer<Float>

    func run(rows heads: Range<Int>) {
        let hd = input.headDim, dk = input.dk
        for hh in heads {
            silu(input.q + hh * hd, count: hd)
            silu(input.k + hh * hd, count: hd)
            let qd = qh + hh * dk, kd = kh + hh * dk
            input.rotate(head: hh, token: 0, q: qd, k: kd)
            linearAttentionStep(
                state: state + hh * dk * hd, q: qd, k: kd, v: input.v + hh * hd, out: out + hh * hd,
                lambda: expf(-slope[hh]), dk: dk, dv: hd)
        }
    }
}
