import Foundation
import RillFormat

/// Tensors of a `MambaForCausalLM` checkpoint (the `state-spaces/mamba-*-hf` layout).
///
/// Kept names, except: `mixer.A_log` becomes `mixer.A = −exp(A_log)` (what the scan uses),
/// and `mixer.conv1d.weight [E, 1, K]` is stored as `[E, K]`. A tied LM head is not stored.
func mambaPlan(_ c: MambaConfig, _ src: SourceReader) throws -> [PlannedTensor] {
    let d = c.hiddenSize, e = c.intermediateSize, n = c.stateSize, r = c.timeStepRank, k = c.convKernel
    var plan: [PlannedTensor] = []
    plan.append(try src.copy("backbone.embeddings.weight", [c.vocabSize, d], .embedding))
    for i in 0..<c.numLayers {
        let p = "backbone.layers.\(i)."
        plan.append(try src.copy(p + "norm.weight", [d], .keepF32))
        plan.append(try src.copy(p + "mixer.in_proj.weight", [2 * e, d], .projection))
        if c.useBias { plan.append(try src.copy(p + "mixer.in_proj.bias", [2 * e], .keepF32)) }
        let convName = p + "mixer.conv1d.weight"
        try src.require(convName, [e, 1, k])
        plan.append(PlannedTensor(name: convName, shape: [e, k], role: .keepF32) { try src.values(convName, [e, 1, k]) })
        if c.useConvBias { plan.append(try src.copy(p + "mixer.conv1d.bias", [e], .keepF32)) }
        plan.append(try src.copy(p + "mixer.x_proj.weight", [r + 2 * n, e], .projection))
        plan.append(try src.copy(p + "mixer.dt_proj.weight", [e, r], .projection))
        plan.append(try src.copy(p + "mixer.dt_proj.bias", [e], .keepF32))
        let aLog = p + "mixer.A_log"
        try src.require(aLog, [e, n])
        plan.append(PlannedTensor(name: p + "mixer.A", shape: [e, n], role: .keepF32) {
            try src.values(aLog, [e, n]).map { -Float(exp(Double($0))) }
        })
        plan.append(try src.copy(p + "mixer.D", [e], .keepF32))
        plan.append(try src.copy(p + "mixer.out_proj.weight", [d, e], .projection))
        if c.useBias { plan.append(try src.copy(p + "mixer.out_proj.bias", [d], .keepF32)) }
    }
    plan.append(try src.copy("backbone.norm_f.weight", [d], .keepF32))
    if !c.tieWordEmbeddings {
        plan.append(try src.copy("lm_head.weight", [c.vocabSize, d], .head))
    }
    return plan
}
