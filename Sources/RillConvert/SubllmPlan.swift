import Foundation
import RillFormat

/// Where a SUBLLM or LLaMA checkpoint keeps each tensor.
///
/// SUBLLM (`SubllmModel`): `decoder.` + `embed_tokens`, `layers.N.{self_attn_layer_norm,
/// self_attn.{q,k,v,out}_proj, final_layer_norm, feedforward.swiglu.{w12,w3}}`,
/// `downsamplers.K.to_scores`, `bypasses.K.bypass_scale`, `layer_norm`, `output_projection`;
/// the prefix is whatever stands before `embed_tokens.weight` (`decoder.`, `model.decoder.`, …).
/// LLaMA (`LlamaForCausalLM`): `model.embed_tokens`, `model.layers.N.{input_layernorm,
/// self_attn.{q,k,v,o}_proj, post_attention_layernorm, mlp.{gate,up,down}_proj}`,
/// `model.norm`, `lm_head`.
struct SubllmSourceNames {
    let layout: SourceLayout
    let prefix: String

    init(layout: SourceLayout, _ src: SourceReader) throws {
        self.layout = layout
        if layout == .llama {
            prefix = "model."
            return
        }
        let candidates = ["decoder.", "model.decoder.", "transformer.decoder.", ""]
        guard let p = candidates.first(where: { src.has($0 + "embed_tokens.weight") }) else {
            throw RillFileError.missingTensor(path: src.checkpoint.files.first?.path ?? "model.safetensors", name: "decoder.embed_tokens.weight")
        }
        prefix = p
    }

    var embedding: String { prefix + "embed_tokens.weight" }
    var head: String { layout == .llama ? "lm_head.weight" : prefix + "output_projection.weight" }
    var finalNorm: String { prefix + (layout == .llama ? "norm.weight" : "layer_norm.weight") }

    func layer(_ i: Int, _ part: String) -> String {
        let p = prefix + "layers.\(i)."
        switch (layout, part) {
        case (.llama, "attn_norm"): return p + "input_layernorm.weight"
        case (.llama, "ffn_norm"): return p + "post_attention_layernorm.weight"
        case (.llama, "o"): return p + "self_attn.o_proj"
        case (.llama, let x): return p + "self_attn.\(x)_proj"
        case (_, "attn_norm"): return p + "self_attn_layer_norm.weight"
        case (_, "ffn_norm"): return p + "final_layer_norm.weight"
        case (_, "o"): return p + "self_attn.out_proj"
        case (_, let x): return p + "self_attn.\(x)_proj"
        }
    }
}

/// The tensors of a `.rill` SUBLLM file (`Formats/rill.md` §8.4) from either layout. The
/// query, key and value projections are stacked into one matrix (`attn.qkv`, rows q then k
/// then v), and LLaMA's gate and up projections into SUBLLM's packed `ffn.w12` (gate rows
/// first): one mat-vec each per decoded token instead of three and two.
func subllmPlan(_ c: SubllmConfig, rope: LlamaRoPE, _ names: SubllmSourceNames, _ src: SourceReader) throws -> [PlannedTensor] {
    let d = c.hiddenSize, f = c.intermediateSize, dim = c.headDim
    let qd = c.numHeads * dim, kvd = c.numKVHeads * dim
    var plan: [PlannedTensor] = []
    plan.append(PlannedTensor(name: "embedding.weight", shape: [c.vocabSize, d], role: .embedding) {
        try src.values(names.embedding, [c.vocabSize, d])
    })
    try src.require(names.embedding, [c.vocabSize, d])
    for i in 0..<c.numLayers {
        let p = "layers.\(i)."
        plan.append(try renamed(src, names.layer(i, "attn_norm"), p + "attn_norm.weight", [d]))
        let parts = [(names.layer(i, "q"), qd), (names.layer(i, "k"), kvd), (names.layer(i, "v"), kvd)]
        for (n, rows) in parts { try src.require(n + ".weight", [rows, d]) }
        plan.append(PlannedTensor(name: p + "attn.qkv.weight", shape: [qd + 2 * kvd, d], role: i == 0 ? .sensitive : .projection) {
            try parts.flatMap { (n, rows) in try src.values(n + ".weight", [rows, d]) }
        })
        if c.qkBias || c.voBias {
            // SUBLLM's qk_bias alone biases q and k only: v's part of the stacked bias is 0.
            let biased = [c.qkBias, c.qkBias, c.voBias]
            for ((n, rows), b) in zip(parts, biased) where b { try src.require(n + ".bias", [rows]) }
            plan.append(PlannedTensor(name: p + "attn.qkv.bias", shape: [qd + 2 * kvd], role: .keepF32) {
                try zip(parts, biased).flatMap { (part, b) in
                    b ? try src.values(part.0 + ".bias", [part.1]) : [Float](repeating: 0, count: part.1)
                }
            })
        }
        let o = names.layer(i, "o")
        plan.append(try renamed(src, o + ".weight", p + "attn.o.weight", [d, qd], .projection))
        if c.voBias { plan.append(try renamed(src, o + ".bias", p + "attn.o.bias", [d])) }
        plan.append(try renamed(src, names.layer(i, "ffn_norm"), p + "ffn_norm.weight", [d]))
        if names.layout == .llama {
            let gate = names.prefix + "layers.\(i).mlp.gate_proj.weight", up = names.prefix + "layers.\(i).mlp.up_proj.weight"
            try src.require(gate, [f, d])
            try src.require(up, [f, d])
            plan.append(PlannedTensor(name: p + "ffn.w12.weight", shape: [2 * f, d], role: .projection) {
                try src.values(gate, [f, d]) + src.values(up, [f, d])
            })
            plan.append(try renamed(src, names.prefix + "layers.\(i).mlp.down_proj.weight", p + "ffn.w3.weight", [d, f], .projection))
        } else {
            let ffn = names.prefix + "layers.\(i).feedforward.swiglu."
            plan.append(try renamed(src, ffn + "w12.weight", p + "ffn.w12.weight", [2 * f, d], .projection))
            plan.append(try renamed(src, ffn + "w3.weight", p + "ffn.w3.weight", [d, f], .projection))
        }
    }
    let program = try SubllmStructure(c.structure, layers: c.numLayers)
    for k in 0..<program.bracketCount {
        let score = names.prefix + "downsamplers.\(k).to_scores.weight"
        try src.require(score, [1, d])
        plan.append(PlannedTensor(name: "subsamplers.\(k).score.weight", shape: [d], role: .keepF32) { try src.values(score, [1, d]) })
        // The reference numbers bypasses by their `)`, subsamplers by their `(`.
        plan.append(try renamed(src, names.prefix + "bypasses.\(program.closeOrdinal[k]).bypass_scale", "bypasses.\(k).scale", [d]))
    }
    plan.append(try renamed(src, names.finalNorm, "norm.weight", [d]))
    // The reference's RoPE tables, saved as persistent buffers: derived from the config, so
    // read (their shape checked) and not stored twice.
    for i in 0..<c.numLayers {
        let buffer = names.prefix + "layers.\(i).self_attn.position.inv_freq"
        if src.has(buffer) { try src.require(buffer, [dim / 2]) }
    }
    let inv = rope.inverseFrequencies(headDim: dim)
    plan.append(PlannedTensor(name: "rope.inv_freq", shape: [dim / 2], role: .keepF32) { inv })
    if !c.tieWordEmbeddings {
        plan.append(try renamed(src, names.head, "head.weight", [c.vocabSize, d], .head))
    }
    return plan
}

/// A source tensor stored under another name, same shape.
private func renamed(_ src: SourceReader, _ from: String, _ to: String, _ shape: [Int], _ role: TensorRole = .keepF32) throws -> PlannedTensor {
    try src.require(from, shape)
    return PlannedTensor(name: to, shape: shape, role: role) { try src.values(from, shape) }
}
