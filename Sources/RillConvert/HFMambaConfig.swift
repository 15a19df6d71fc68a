import RillFormat

/// transformers' `MambaConfig` as `MambaForCausalLM` reads it (transformers 5.17.0,
/// `models/mamba/configuration_mamba.py`; the class has no `attribute_map`).
///
/// | config.json key | default | how the model uses it |
/// |---|---|---|
/// | `hidden_size` | 768 | model width d |
/// | `num_hidden_layers` | 32 | blocks |
/// | `vocab_size` | 50280 | embedding rows |
/// | `state_size` | 16 | N |
/// | `conv_kernel` | 4 | K |
/// | `expand` | 2 | `intermediate_size = int(expand · hidden_size)`, set in `__post_init__` |
/// | `intermediate_size` | (derived) | a key in the file is applied after `__post_init__` and wins |
/// | `time_step_rank` | `"auto"` | `"auto"` → ⌈hidden_size / 16⌉ |
/// | `layer_norm_epsilon` | 1e-5 | every RMSNorm |
/// | `use_bias` | false | `nn.Linear(bias=…)` of in/out_proj: tested for truth |
/// | `use_conv_bias` | true | `nn.Conv1d(bias=…)`: tested for truth |
/// | `hidden_act` | `"silu"` | `ACT2FN[…]` in the mixer; `"silu"`/`"swish"` are both SiLU |
/// | `tie_word_embeddings` | true | ties `lm_head` to the embedding (``TieRule``) |
/// | `residual_in_fp32` | true | dtype of the residual: no effect on an f32 model |
enum HFMamba {
    /// Keys of the class that change only initialisation, training or caching.
    static let inertKeys: Set<String> = [
        "residual_in_fp32", "rescale_prenorm_residual", "time_step_scale", "time_step_min", "time_step_max",
        "time_step_init_scheme", "time_step_floor", "use_mambapy", "use_associative_scan",
    ]

    static func read(_ r: inout ConfigReader) throws(RillFileError) -> (config: ModelConfig, tie: TieRule, inert: Set<String>) {
        let L = ModelLimits.self
        let hidden = try r.int("hidden_size", ["hidden_size"], default: 768, in: 1...L.maxWidth)
        let layers = try r.int("num_layers", ["num_hidden_layers"], default: 32, in: 1...L.maxLayers)
        let vocab = try r.int("vocab_size", ["vocab_size"], default: 50280, in: 1...L.maxVocab)
        let state = try r.int("state_size", ["state_size"], default: 16, in: 1...L.maxStateSize)
        let conv = try r.int("conv_kernel", ["conv_kernel"], default: 4, in: 1...L.maxConvKernel)
        let inner = try innerSize(&r, field: "intermediate_size", hidden: hidden)
        let rank = try timeStepRank(&r, field: "time_step_rank", hidden: hidden)
        let eps = try r.number("layer_norm_epsilon", ["layer_norm_epsilon"], default: 1e-5, expected: "a small positive number") { $0 > 0 && $0 < 1 }
        _ = try r.string(nil, ["hidden_act"], default: "silu", allowed: ["silu", "swish"], why: "the mixer's gate and convolution activation; Rill implements SiLU")
        let convBias = try r.flag("use_conv_bias", ["use_conv_bias"], default: true)
        let bias = try r.flag("use_bias", ["use_bias"], default: false)
        let tie = try r.flag("tie_word_embeddings", ["tie_word_embeddings"], default: true)
        let config = MambaConfig(
            hiddenSize: hidden, numLayers: layers, vocabSize: vocab, stateSize: state, convKernel: conv,
            intermediateSize: inner, timeStepRank: rank, layerNormEpsilon: Float(eps), useConvBias: convBias,
            useBias: bias, tieWordEmbeddings: tie)
        return (.mamba(config), .flag(tie), inertKeys)
    }

    /// Mamba's inner width as transformers and fla compute it: `int(expand · hidden_size)`,
    /// replaced by an `intermediate_size` key when the file has one (set after the class's
    /// own computation). `expand` is read either way, as Python evaluates it either way.
    static func innerSize(_ r: inout ConfigReader, field: String, hidden: Int) throws(RillFileError) -> Int {
        let expand = try r.int(nil, ["expand"], default: 2, in: 1...64)
        if r.has("intermediate_size") {
            return try r.int(field, ["intermediate_size"], default: nil, in: 1...ModelLimits.maxWidth * 4)
        }
        r.consult(["intermediate_size"])
        let inner = expand * hidden
        guard inner <= ModelLimits.maxWidth * 4 else {
            throw r.error("expand", "expand · hidden_size ≤ \(ModelLimits.maxWidth * 4)", found: "\(expand) · \(hidden)")
        }
        r.derived(field, "expand (\(r.has("expand") ? "" : "default ")\(expand)) · hidden_size")
        return inner
    }

    /// `time_step_rank`: an integer, or `"auto"` (the default) for ⌈hidden_size / 16⌉.
    static func timeStepRank(_ r: inout ConfigReader, field: String, hidden: Int) throws(RillFileError) -> Int {
        guard let (key, v) = try r.lookup(["time_step_rank"]), v != .string("auto") else {
            r.derived(field, "⌈hidden_size / 16⌉ (time_step_rank \"auto\"\(r.has("time_step_rank") ? "" : ", the default"))")
            return (hidden + 15) / 16
        }
        if case .string = v { throw r.error(key, "an integer or \"auto\"", v) }
        let rank = try r.integer(v, key: key, in: 1...ModelLimits.maxWidth)
        r.found(field, key)
        return rank
    }
}
