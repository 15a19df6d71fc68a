import Foundation
import RillFormat

/// Tensors of a flash-linear-attention `SambaForCausalLM` checkpoint.
///
/// Mamba layers keep the Mamba names (with `A_log` → `A` and the conv reshaped as in
/// ``mambaPlan``); attention layers keep `q_proj/k_proj/v_proj/o_proj`.
func sambaPlan(_ c: SambaConfig, _ src: SourceReader) throws -> [PlannedTensor] {
    let d = c.hiddenSize, e = c.mambaInnerSize, n = c.stateSize, r = c.timeStepRank, k = c.convKernel
    let qd = c.numHeads * c.headDim, kvd = c.numKVHeads * c.headDim, m = c.intermediateSize
    var plan: [PlannedTensor] = []
    plan.append(try src.copy("backbone.embeddings.weight", [c.vocabSize, d], .embedding))
    for i in 0..<c.numLayers {
        let p = "backbone.layers.\(i)."
        plan.append(try src.copy(p + "mixer_norm.weight", [d], .keepF32))
        if c.isAttention(layer: i) {
            let input: TensorRole = i == 0 ? .sensitive : .projection
            plan.append(try src.copy(p + "mixer.q_proj.weight", [qd, d], input))
            plan.append(try src.copy(p + "mixer.k_proj.weight", [kvd, d], input))
            plan.append(try src.copy(p + "mixer.v_proj.weight", [kvd, d], input))
            if c.qkvBias {
                plan.append(try src.copy(p + "mixer.q_proj.bias", [qd], .keepF32))
                plan.append(try src.copy(p + "mixer.k_proj.bias", [kvd], .keepF32))
                plan.append(try src.copy(p + "mixer.v_proj.bias", [kvd], .keepF32))
            }
            plan.append(try src.copy(p + "mixer.o_proj.weight", [d, qd], .projection))
        } else {
            plan += try mambaMixerPlan(src, prefix: p + "mixer.", d: d, e: e, n: n, r: r, k: k, bias: c.useBias, convBias: c.useConvBias, first: i == 0)
        }
        plan.append(try src.copy(p + "mlp_norm.weight", [d], .keepF32))
        plan.append(try src.copy(p + "mlp.gate_proj.weight", [m, d], .projection))
        plan.append(try src.copy(p + "mlp.up_proj.weight", [m, d], .projection))
        plan.append(try src.copy(p + "mlp.down_proj.weight", [d, m], .projection))
    }
    plan.append(try src.copy("backbone.norm_f.weight", [d], .keepF32))
    if !c.tieWordEmbeddings {
        plan.append(try src.copy("lm_head.weight", [c.vocabSize, d], .head))
    }
    return plan
}
