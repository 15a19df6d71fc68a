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
        plan += try mambaMixerPlan(src, prefix: p + "mixer.", d: d, e: e, n: n, r: r, k: k, bias: c.useBias, convBias: c.useConvBias, first: i == 0)
    }
    plan.append(try src.copy("backbone.norm_f.weight", [d], .keepF32))
    if !c.tieWordEmbeddings {
        plan.append(try src.copy("lm_head.weight", [c.vocabSize, d], .head))
    }
    return plan
}

/// The tensors of one Mamba mixer under `prefix` (`backbone.layers.i.mixer.`), shared by Mamba
/// and SAMBA's Mamba layers: d model width, e inner width, n state size, r dt rank, k conv width.
func mambaMixerPlan(
    _ src: SourceReader, prefix p: String, d: Int, e: Int, n: Int, r: Int, k: Int, bias: Bool, convBias: Bool, first: Bool
) throws -> [PlannedTensor] {
    var plan: [PlannedTensor] = []
    plan.append(try src.copy(p + "in_proj.weight", [2 * e, d], first ? .sensitive : .projection))
    if bias { plan.append(try src.copy(p + "in_proj.bias", [2 * e], .keepF32)) }
    let convName = p + "conv1d.weight"
    try src.require(convName, [e, 1, k])
    plan.append(PlannedTensor(name: convName, shape: [e, k], role: .keepF32) { try src.values(convName, [e, 1, k]) })
    if convBias { plan.append(try src.copy(p + "conv1d.bias", [e], .keepF32)) }
    plan.append(try src.copy(p + "x_proj.weight", [r + 2 * n, e], .projection))
    plan.append(try src.copy(p + "dt_proj.weight", [e, r], .sensitive))
    plan.append(try src.copy(p + "dt_proj.bias", [e], .keepF32))
    let aLog = p + "A_log"
    try src.require(aLog, [e, n])
    plan.append(PlannedTensor(name: p + "A", shape: [e, n], role: .keepF32) {
        try src.values(aLog, [e, n]).map { -Float(exp(Double($0))) }
    })
    plan.append(try src.copy(p + "D", [e], .keepF32))
    plan.append(try src.copy(p + "out_proj.weight", [d, e], .projection))
    if bias { plan.append(try src.copy(p + "out_proj.bias", [d], .keepF32)) }
    return plan
}
