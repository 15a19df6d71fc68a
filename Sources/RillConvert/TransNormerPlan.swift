import Foundation
import RillFormat

/// Tensors of a `TransnormerForCausalLM` checkpoint (OpenNLPLab's Hugging Face code).
///
/// Added: `model.layers.{i}.token_mixer.slope [H]`, the decay rate s of each head with the
/// per-layer scaling already applied (λ = exp(−s)). Changed: `lrpe.theta [H, 1, D]` is stored
/// as `[H, D]`. SimpleRMSNorm has no weights, so there are no norm tensors.
func transNormerPlan(_ c: TransNormerConfig, _ src: SourceReader) throws -> [PlannedTensor] {
    let d = c.embedDim, h = c.hiddenDim, g = c.gluDim, heads = c.numHeads
    var plan: [PlannedTensor] = []
    plan.append(try src.copy("model.embed_tokens.weight", [c.vocabSize, d], .embedding))
    let slopes = transNormerSlopes(heads: heads)
    for i in 0..<c.numLayers {
        let p = "model.layers.\(i)."
        plan.append(try src.copy(p + "token_mixer.qkvu_proj.weight", [4 * h, d], i == 0 ? .sensitive : .projection))
        plan.append(try src.copy(p + "token_mixer.out_proj.weight", [d, h], .projection))
        plan.append(try src.copy(p + "channel_mixer.l1.weight", [g, d], .projection))
        plan.append(try src.copy(p + "channel_mixer.l2.weight", [g, d], .projection))
        plan.append(try src.copy(p + "channel_mixer.l3.weight", [d, g], .projection))
        if c.lrpeLayers[i] {
            let theta = p + "token_mixer.lrpe.theta"
            let hd = d / heads
            try src.require(theta, [heads, 1, hd])
            plan.append(PlannedTensor(name: theta, shape: [heads, hd], role: .keepF32) {
                try src.values(theta, [heads, 1, hd])
            })
        }
        let scaled = transNormerLayerSlopes(slopes, layer: i, numLayers: c.numLayers)
        plan.append(PlannedTensor(name: p + "token_mixer.slope", shape: [heads], role: .keepF32) { scaled })
    }
    if c.tieWordEmbeddings {
        // Nothing: the head reads the embedding.
    } else {
        plan.append(try src.copy("lm_head.weight", [c.vocabSize, d], .head))
    }
    return plan
}

/// ALiBi slopes as the reference builds them: for a power of two n, `start^(i+1)` with
/// `start = 2^(−8/n)`; otherwise the slopes of the largest power of two below n followed by
/// every second slope of twice that, until n are taken.
public func transNormerSlopes(heads n: Int) -> [Double] {
    func powerOf2(_ n: Int) -> [Double] {
        let start = pow(2.0, -pow(2.0, -(log2(Double(n)) - 3)))
        return (0..<n).map { start * pow(start, Double($0)) }
    }
    let l = log2(Double(n))
    if l == l.rounded() { return powerOf2(n) }
    let closest = 1 << Int(l.rounded(.down))
    return powerOf2(closest) + Array(stride(from: 0, to: 2 * closest, by: 2).map { transNormerSlopes(heads: 2 * closest)[$0] }.prefix(n - closest))
}

/// The reference's per-layer scaling, in its float32 arithmetic:
/// `float32(slope) · float32(1 − i/(L−1) + 1e−5)`.
public func transNormerLayerSlopes(_ slopes: [Double], layer i: Int, numLayers L: Int) -> [Float] {
    let scale = Float(1 - Double(i) / Double(L - 1) + 1e-5)
    return slopes.map { Float($0) * scale }
}
