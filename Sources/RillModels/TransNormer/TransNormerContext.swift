import Foundation
import RillFormat
import RillKernels

/// One sequence on a ``TransNormerModel``: per layer and head the KV state (dk × hd, f32;
/// dk = 2·hd with LRPE), and scratch for a block of up to `chunk` tokens.
final class TransNormerContext: ModelContext {
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
    /// Per head block scratch: Q' and K' (T, dk), scores (T, T), decays.
    let qh: Buffer, kh: Buffer, scores: Buffer
    let ws: Workspace
    /// (T, V)
    let logits: Buffer
    private(set) var position = 0
    private let stepToken = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

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
        qh = Buffer(t * 2 * hd)
        kh = Buffer(t * 2 * hd)
        scores = Buffer(t * t)
        ws = Workspace(maxCols: max(c.embedDim, c.hiddenDim, c.gluDim), threads: threads)
        logits = Buffer(min(t, logitRows) * c.vocabSize)
    }

    deinit { stepToken.deallocate() }

    var stateBytes: Int { kv.reduce(0) { $0 + $1.count * 4 } }

    func reset() {
        for b in kv { b.zero() }
        position = 0
    }

    func setPosition(_ p: Int) { position = p }

    func stateBuffers() -> [UnsafeMutableBufferPointer<Float>] { kv.map(\.buffer) }

    func step(_ token: Int32, logits out: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        stepToken.pointee = token
        forward(UnsafeBufferPointer(start: stepToken, count: 1), pool: pool)
        lmHead(rows: 0..<1, pool: pool)
        out.update(from: logits.pointer, count: model.c.vocabSize)
    }

    func prefill(
        _ tokens: UnsafeBufferPointer<Int32>, allLogits: Bool, pool: ThreadPool,
        emit: (Int, UnsafePointer<Float>) -> Void
    ) {
        chunkedPrefill(
            tokens, chunk: chunk, allLogits: allLogits, logits: logits.pointer, vocabSize: model.c.vocabSize,
            forward: { forward($0, pool: pool) }, head: { lmHead(rows: $0, pool: pool) }, emit: emit)
    }

    private func forward(_ tokens: UnsafeBufferPointer<Int32>, pool: ThreadPool) {
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
    /// layer's KV state. One token: the recurrence. More: the Lightning Attention block
    /// algorithm with relative decays only (λ^(i+1), λ^(i−j), λ^(T−1−j), λ^T with exponents
    /// ≤ T), so nothing depends on the absolute position except the LRPE angles.
    private func linearAttention(layer l: Int, t: Int, pool: ThreadPool) {
        let c = model.c, layer = model.layers[l]
        let heads = c.numHeads, hd = c.headDim, h = c.hiddenDim, ld = 4 * h
        let lrpe = layer.theta != nil
        let dk = lrpe ? 2 * hd : hd
        let q = qkvu.pointer, k = qkvu.pointer + h, v = qkvu.pointer + 2 * h
        // q, k = SiLU(q), SiLU(k) in place.
        for i in 0..<t {
            silu(q + i * ld, count: h)
            silu(k + i * ld, count: h)
        }
        for hh in 0..<heads {
            let s = layer.slope.pointer[hh]
            let state = kv[l].pointer + hh * dk * hd
            // Q', K' (T, dk): the head's q, k with LRPE applied.
            for i in 0..<t {
                let qi = q + i * ld + hh * hd, ki = k + i * ld + hh * hd
                let qd = qh.pointer + i * dk, kd = kh.pointer + i * dk
                if let theta = layer.theta {
                    // Angles in float32 as the reference computes them: θ · Float(pos).
                    let pos = Float(position + i)
                    for j in 0..<hd {
                        let a = theta.pointer[hh * hd + j] * pos
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
            let o = attn.pointer + hh * hd
            if t == 1 {
                let lambda = expf(-s)
                linearAttentionStep(state: state, q: qh.pointer, k: kh.pointer, v: v + hh * hd, out: o, lambda: lambda, dk: dk, dv: hd)
            } else {
                lightningBlock(
                    state: state, q: qh.pointer, k: kh.pointer, v: v + hh * hd, ldv: ld, out: o, ldo: h,
                    scores: scores.pointer, slope: s, t: t, dk: dk, dv: hd)
            }
        }
    }

    private func lmHead(rows: Range<Int>, pool: ThreadPool) {
        let d = model.c.embedDim, v = model.c.vocabSize
        if rows.count == 1 {
            matVec(model.head, xn.pointer + rows.lowerBound * d, logits.pointer, ws: ws, pool: pool)
        } else {
            gemmRows(model.head, a: xn.pointer + rows.lowerBound * d, lda: d, c: logits.pointer, ldc: v, t: rows.count, ws: ws, pool: pool)
        }
    }
}
