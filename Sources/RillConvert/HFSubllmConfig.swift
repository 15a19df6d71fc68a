import Foundation
import RillFormat

/// XiaoMi's `SubllmConfig` as `SubllmModel` reads it (github XiaoMi/subllm,
/// `modeling/modeling_subllm_inference.py`). The model is built as
/// `DownsampledDecoder(**config.to_dict())`: a key the decoder does not name as a parameter
/// is ignored, and a parameter the config class does not set keeps the decoder's default.
///
/// | config.json key | default | how the model uses it |
/// |---|---|---|
/// | `num_embeddings` (alias `vocab_size`) | 32000 | embedding and output rows |
/// | `decoder_embed_dim` (alias `hidden_size`) | 2048 | d |
/// | `decoder_ffn_embed_dim` | 8192 | SwiGLU width (`w12` is 2× that) |
/// | `decoder_layers` (alias `n_layer`) | 24 | must equal the `T`s of `structure` (the decoder asserts it) |
/// | `decoder_attention_heads` (alias `n_head`) | 32 | H, dividing d; head width d/H |
/// | `structure` | none (`None` fails) | blocks and brackets |
/// | `norm_name` | `"rmsnorm"` | RMSNorm with ε 1e-5 (the `LayerNorm` factory's default; `layernorm` is not implemented) |
/// | `qk_bias` | true (the class's default) | biases on q_proj, k_proj |
/// | `bias` | false (the decoder's default) | biases on q, k, v and out_proj |
/// | `attn_type` | `"vanilla"` | `vanilla` and `flash` are the same maths; anything else builds no attention |
/// | `no_scale_embedding` | true (the decoder's default) | embedding × √d when false; `scale_token_embedding`, set by the class, is read by nothing |
/// | `tie_weights` | true | the output projection *is* the embedding parameter |
/// | `n_positions` | 2408 | not read by the model; Rill's default context |
/// | `downsampling_factor_denominator` | `"0.5"` | training keep rate, a string Python evaluates; must lie in (0, 1) |
/// | RoPE | | base 10 000 over the head width, not configurable |
enum HFSubllm {
    static let inertKeys: Set<String> = [
        "mlp_name", "use_fused", "use_flash", "tokens_per_sample", "padding_idx", "scale_token_embedding", "qkv_pack",
        "fix_zh", "tie_word_embeddings", "dropout", "attention_dropout", "activation_fn", "checkpoint_activations",
        "offload_activations", "min_params_to_wrap", "model_parallel_size", "grad_scale", "inference",
        "initialize_params_on_gpu",
    ]

    static func read(_ r: inout ConfigReader) throws(RillFileError) -> (config: ModelConfig, tie: TieRule, inert: Set<String>, rope: LlamaRoPE) {
        let L = ModelLimits.self
        let vocab = try r.int("vocab_size", ["num_embeddings", "vocab_size"], default: 32000, in: 1...L.maxVocab)
        let d = try r.int("hidden_size", ["decoder_embed_dim", "hidden_size"], default: 2048, in: 1...L.maxWidth)
        let ffn = try r.int("intermediate_size", ["decoder_ffn_embed_dim"], default: 8192, in: 1...L.maxWidth * 8)
        let layers = try r.int("num_layers", ["decoder_layers", "n_layer"], default: 24, in: 1...L.maxLayers)
        let heads = try r.int("num_heads", ["decoder_attention_heads", "n_head"], default: 32, in: 1...L.maxWidth)
        guard d % heads == 0 else {
            throw r.error("decoder_attention_heads", "a divisor of decoder_embed_dim (\(d))", found: "\(heads)")
        }
        guard let (sk, sv) = try r.lookup(["structure"]), case let .string(structure) = sv else {
            throw r.error("structure", "a string of T, ( and ) (the reference has no default)", found: "none or another type")
        }
        do {
            _ = try SubllmStructure(structure, layers: layers)
        } catch {
            throw r.error(sk, "a structure with \(layers) blocks (decoder_layers)", found: "\"\(structure.prefix(80))\": \(error)")
        }
        r.found("structure", sk)
        _ = try r.string(nil, ["norm_name"], default: "rmsnorm", allowed: ["rmsnorm"], why: "Rill implements the RMSNorm blocks")
        _ = try r.string(nil, ["attn_type"], default: "vanilla", allowed: ["vanilla", "flash"], why: "the reference builds no attention for other values")
        let qk = try r.flag(nil, ["qk_bias"], default: true)
        let bias = try r.flag(nil, ["bias"], default: false)
        r.derived("qk_bias", "qk_bias (\(qk)) or bias (\(bias))")
        r.derived("vo_bias", "bias (\(bias))")
        let noScale = try r.flag(nil, ["no_scale_embedding"], default: true)
        r.derived("embedding_scale", noScale ? "1 (no_scale_embedding\(r.has("no_scale_embedding") ? "" : ", the decoder's default"))" : "√d (no_scale_embedding false)")
        let tie = try r.flag("tie_word_embeddings", ["tie_weights"], default: true)
        let positions = try r.int("max_positions", ["n_positions"], default: 2408, in: 1...L.maxContext)
        let keep = try keepRate(&r)
        r.derived("norm_epsilon", "1e-5 (the reference's LayerNorm factory default for its RMSNorm)")
        r.derived("rope_theta", "10000 (fixed in the reference)")
        r.derived("rope_scaling", "none")
        r.derived("num_kv_heads", "num_heads (no grouped-query attention)")
        r.derived("head_dim", "decoder_embed_dim / decoder_attention_heads")
        let config = SubllmConfig(
            hiddenSize: d, numLayers: layers, numHeads: heads, numKVHeads: heads, headDim: d / heads,
            intermediateSize: ffn, vocabSize: vocab, structure: structure, normEpsilon: 1e-5, ropeTheta: 10000,
            ropeScaling: "none", qkBias: qk || bias, voBias: bias, embeddingScale: noScale ? 1 : Float(Double(d).squareRoot()),
            maxPositions: positions, keepRate: keep, tieWordEmbeddings: tie)
        return (.subllm(config), .shared(tie), inertKeys, LlamaRoPE(theta: 10000, type: "default"))
    }

    /// The training keep rate. The class evaluates `downsampling_factor_denominator` with
    /// `ast.literal_eval` (a string such as `"0.64"`, or a number) into
    /// `downsampling_factor = (1 / it,)`, and saves only the latter — which, set from the file
    /// after `__init__`, wins when both are present. The subsampler asserts a factor > 1.
    static func keepRate(_ r: inout ConfigReader) throws(RillFileError) -> Double {
        if let (key, v) = try r.lookup(["downsampling_factor"]) {
            var factor: JSONValue = v
            if case let .array(items) = v, let first = items.first { factor = first }
            guard case let .number(x) = factor, x.isFinite, x > 1 else { throw r.error(key, "a factor > 1, or a list of them", v) }
            r.consult(["downsampling_factor_denominator"])
            r.derived("keep_rate", "1 / downsampling_factor")
            return 1 / x
        }
        guard let (key, v) = try r.lookup(["downsampling_factor_denominator"]) else {
            r.derived("keep_rate", "0.5 (the class's default \"0.5\")")
            return 0.5
        }
        let x: Double?
        switch v {
        case let .number(n): x = n
        case let .string(s): x = Double(s.trimmingCharacters(in: .whitespaces))
        default: x = nil
        }
        guard let x, x.isFinite, x > 0, x < 1 else { throw r.error(key, "a keep rate in (0, 1), as a number or a string", v) }
        r.found("keep_rate", key)
        return x
    }
}

/// transformers' `LlamaConfig` as `LlamaForCausalLM` reads it (transformers 5.17.0,
/// `models/llama/configuration_llama.py`, `modeling_llama.py`, `modeling_rope_utils.py`):
/// SUBLLM's baseline, a structure with no bracket.
///
/// | config.json key | default | how the model uses it |
/// |---|---|---|
/// | `vocab_size` | 32000 | |
/// | `hidden_size` | 4096 | d |
/// | `intermediate_size` | 11008 | SwiGLU width |
/// | `num_hidden_layers` | 32 | |
/// | `num_attention_heads` | 32 | H |
/// | `num_key_value_heads` | `num_attention_heads` (also for `null`) | grouped-query attention |
/// | `head_dim` | d / H (also for `null`) | |
/// | `hidden_act` | `"silu"` | the MLP gate |
/// | `rms_norm_eps` | 1e-6 | |
/// | `max_position_embeddings` | 2048 | Rill's default context |
/// | `rope_parameters` / `rope_scaling` + `rope_theta` | default RoPE, θ 10 000 | `default`, `linear` and `llama3` are implemented |
/// | `attention_bias` | false | biases on q, k, v, o |
/// | `mlp_bias` | false | not implemented when true |
/// | `tie_word_embeddings` | false | |
/// | `pretraining_tp` | 1 | a way of slicing the same products: no effect on the maths |
enum HFLlama {
    static let inertKeys: Set<String> = ["pretraining_tp", "attention_dropout", "max_position_embeddings_original"]

    static func read(_ r: inout ConfigReader) throws(RillFileError) -> (config: ModelConfig, tie: TieRule, inert: Set<String>, rope: LlamaRoPE) {
        let L = ModelLimits.self
        let vocab = try r.int("vocab_size", ["vocab_size"], default: 32000, in: 1...L.maxVocab)
        let d = try r.int("hidden_size", ["hidden_size"], default: 4096, in: 1...L.maxWidth)
        let ffn = try r.int("intermediate_size", ["intermediate_size"], default: 11008, in: 1...L.maxWidth * 8)
        let layers = try r.int("num_layers", ["num_hidden_layers"], default: 32, in: 1...L.maxLayers)
        let heads = try r.int("num_heads", ["num_attention_heads"], default: 32, in: 1...L.maxWidth)
        let kv = try r.int("num_kv_heads", ["num_key_value_heads"], default: heads, in: 1...heads, nullIsDefault: true)
        guard heads % kv == 0 else { throw r.error("num_key_value_heads", "a divisor of num_attention_heads (\(heads))", found: "\(kv)") }
        let headDim: Int
        if r.has("head_dim") {
            headDim = try r.int("head_dim", ["head_dim"], default: nil, in: 2...1024)
        } else {
            r.consult(["head_dim"])
            guard d % heads == 0 else { throw r.error("num_attention_heads", "a divisor of hidden_size (\(d))", found: "\(heads)") }
            headDim = d / heads
            r.derived("head_dim", "hidden_size / num_attention_heads")
        }
        _ = try r.string(nil, ["hidden_act"], default: "silu", allowed: ["silu", "swish"], why: "the SwiGLU gate Rill implements")
        let eps = try r.number("norm_epsilon", ["rms_norm_eps"], default: 1e-6, expected: "a small positive number") { $0 > 0 && $0 < 1 }
        let positions = try r.int("max_positions", ["max_position_embeddings"], default: 2048, in: 1...L.maxContext)
        let bias = try r.flag(nil, ["attention_bias"], default: false)
        r.derived("qk_bias", "attention_bias (\(bias))")
        r.derived("vo_bias", "attention_bias (\(bias))")
        if try r.flag(nil, ["mlp_bias"], default: false) {
            throw r.error("mlp_bias", "false (MLP biases are not implemented)", found: "true")
        }
        let rope = try LlamaRoPE.read(&r, headDim: headDim, maxPositions: positions)
        let tie = try r.flag("tie_word_embeddings", ["tie_word_embeddings"], default: false)
        r.derived("structure", "\(layers) blocks, no bracket (LLaMA)")
        r.derived("embedding_scale", "1")
        r.derived("keep_rate", "none (LLaMA)")
        let config = SubllmConfig(
            hiddenSize: d, numLayers: layers, numHeads: heads, numKVHeads: kv, headDim: headDim, intermediateSize: ffn,
            vocabSize: vocab, structure: String(repeating: "T", count: layers), normEpsilon: Float(eps),
            ropeTheta: Float(rope.theta), ropeScaling: rope.description, qkBias: bias, voBias: bias, embeddingScale: 1,
            maxPositions: positions, keepRate: nil, tieWordEmbeddings: tie)
        return (.subllm(config), .flag(tie), inertKeys, rope)
    }
}

/// RoPE of a LLaMA config and its inverse frequencies, as transformers computes them
/// (`modeling_rope_utils.py`): `rope_parameters` (5.x), else the legacy `rope_scaling` with
/// `rope_theta` beside it. Implemented: `default`, `linear` (frequencies ÷ factor) and
/// `llama3` (Llama 3.1's wavelength-dependent interpolation); the others (`dynamic`, `yarn`,
/// `longrope`, …) change the attention as well and are refused by name.
struct LlamaRoPE {
    var theta: Double
    var type: String
    var factor: Double = 1
    var lowFreqFactor: Double = 1, highFreqFactor: Double = 4, originalMaxPositions: Double = 8192

    var description: String {
        switch type {
        case "linear": return "linear \(factor)"
        case "llama3": return "llama3 factor \(factor), low \(lowFreqFactor), high \(highFreqFactor), original \(Int(originalMaxPositions))"
        default: return "none"
        }
    }

    static func read(_ r: inout ConfigReader, headDim: Int, maxPositions: Int) throws(RillFileError) -> LlamaRoPE {
        var params: [String: JSONValue] = [:]
        var key = ""
        for k in ["rope_parameters", "rope_scaling"] {
            guard let (found, v) = try r.lookup([k]) else { continue }
            if case let .object(o) = v { params = o; key = found; break }
            if v != .null { throw r.error(found, "an object of RoPE parameters, or null", v) }
        }
        let theta: Double
        if case let .number(t)? = params["rope_theta"] {
            theta = t
            r.found("rope_theta", "\(key).rope_theta")
        } else {
            theta = try r.number("rope_theta", ["rope_theta"], default: 10000, expected: "a positive RoPE base") { $0 > 0 }
        }
        guard theta.isFinite, theta > 0 else { throw r.error("rope_theta", "a positive RoPE base", found: "\(theta)") }
        var rope = LlamaRoPE(theta: theta, type: "default")
        guard !params.isEmpty else {
            r.derived("rope_scaling", "none")
            return rope
        }
        var p = r.nested(key, params)
        p.consult(["rope_theta"])
        let type: String
        if case let .string(t)? = params["rope_type"] ?? params["type"] { type = t } else { type = "default" }
        p.consult(["rope_type", "type"])
        func num(_ name: String, _ def: Double?) throws(RillFileError) -> Double {
            guard let v = params[name] else {
                guard let def else { throw p.error(name, "a number (required by rope_type \(type))", found: "none") }
                return def
            }
            p.consult([name])
            guard case let .number(x) = v, x.isFinite, x > 0 else { throw p.error(name, "a positive number", v) }
            return x
        }
        if let f = params["partial_rotary_factor"], f != .number(1) {
            throw p.error("partial_rotary_factor", "1 (partial rotary embeddings are not implemented)", f)
        }
        p.consult(["partial_rotary_factor"])
        switch type {
        case "default":
            break
        case "linear":
            rope.type = type
            rope.factor = try num("factor", nil)
        case "llama3":
            rope.type = type
            rope.factor = try num("factor", nil)
            rope.lowFreqFactor = try num("low_freq_factor", nil)
            rope.highFreqFactor = try num("high_freq_factor", nil)
            rope.originalMaxPositions = try num("original_max_position_embeddings", Double(maxPositions))
            guard rope.highFreqFactor > rope.lowFreqFactor else {
                throw p.error("high_freq_factor", "greater than low_freq_factor (\(rope.lowFreqFactor))", found: "\(rope.highFreqFactor)")
            }
        default:
            throw p.error("rope_type", "\"default\", \"linear\" or \"llama3\" (the RoPE variants Rill implements)", found: "\"\(type)\"")
        }
        r.absorb(p)
        r.derived("rope_scaling", "\(key): \(rope.description)")
        return rope
    }

    /// The D/2 inverse frequencies, in float32 as transformers computes them.
    func inverseFrequencies(headDim dim: Int) -> [Float] {
        (0..<(dim / 2)).map { i -> Float in
            let base = Float(1) / powf(Float(theta), Float(2 * i) / Float(dim))
            switch type {
            case "linear":
                return base / Float(factor)
            case "llama3":
                let lowWavelen = originalMaxPositions / lowFreqFactor, highWavelen = originalMaxPositions / highFreqFactor
                let wavelen = 2 * Double.pi / Double(base)
                if wavelen < highWavelen { return base }
                if wavelen > lowWavelen { return base / Float(factor) }
                let smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
                return Float((1 - smooth) * Double(base) / factor + smooth * Double(base))
            default:
                return base
            }
        }
    }
}
