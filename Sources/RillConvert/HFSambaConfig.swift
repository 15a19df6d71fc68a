import RillFormat

/// flash-linear-attention's `SambaConfig` as `SambaForCausalLM` reads it (fla 0.6.0,
/// `fla/models/samba/configuration_samba.py`, `modeling_samba.py`, `fla/layers/mamba.py`,
/// `fla/modules/mlp.py`, `fla/models/configuration_utils.py`; no `attribute_map`).
///
/// | config.json key | default | how the model uses it |
/// |---|---|---|
/// | `hidden_size` | 2304 | d |
/// | `num_hidden_layers` | 18 | L |
/// | `vocab_size` | 32000 | embedding rows |
/// | `state_size` | 16 | Mamba N |
/// | `conv_kernel` | 4 | Mamba K |
/// | `expand` | 2 | `intermediate_size = int(expand · hidden_size)` in `__init__` |
/// | `intermediate_size` | (derived) | a key in the file is set after `__init__` and wins |
/// | `time_step_rank` | `"auto"` | ⌈d / 16⌉ |
/// | `use_bias` | false | Mamba in/out_proj biases |
/// | `use_conv_bias` | true | **not read**: fla's Mamba layer is built without it and keeps its own default, a conv bias |
/// | `hidden_act` | `"swish"` | the MLP's activation (`GatedMLP` accepts `swish`, `powlu`); the Mamba layer is always SiLU |
/// | `hidden_ratio` | 4 (`null` → 4) | MLP width 256·⌈⌊d·r·2/3⌋ / 256⌉ |
/// | `norm_eps` | 1e-5 | every RMSNorm |
/// | `attn` | layers 1, 3, …, 17 below L; 18 heads, 18 kv heads, window 2048, θ 10 000, no bias | `null`: no attention layers |
/// | `attn.num_kv_heads` | `num_heads` (also for `null`) | |
/// | `attn.qkv_bias` | false | |
/// | `attn.window_size` | `null` (full attention, refused: memory would grow) | |
/// | `attn.rope_theta` | 10 000 | |
/// | `tie_word_embeddings` | false | passed to `PretrainedConfig` explicitly (``TieRule``) |
/// | `attnres_block_size` | `null` | attention residuals: not implemented |
/// | `fuse_norm`, `fuse_swiglu`, … | | kernels of the same maths |
enum HFSamba {
    static let inertKeys: Set<String> = [
        "residual_in_fp32", "rescale_prenorm_residual", "time_step_scale", "time_step_min", "time_step_max",
        "time_step_init_scheme", "time_step_floor", "max_position_embeddings", "fuse_norm", "fuse_swiglu",
        "fuse_cross_entropy", "fuse_linear_cross_entropy", "use_l2warp",
        // Read by nothing: fla's Mamba layer always has a conv bias.
        "use_conv_bias",
    ]

    /// fla's default `attn`, cut to the layers the model has.
    static let defaultAttention = (layers: Array(stride(from: 1, through: 17, by: 2)), heads: 18, kvHeads: 18, window: 2048, theta: 10000.0)

    static func read(_ r: inout ConfigReader) throws(RillFileError) -> (config: ModelConfig, tie: TieRule, inert: Set<String>) {
        let L = ModelLimits.self
        let hidden = try r.int("hidden_size", ["hidden_size"], default: 2304, in: 1...L.maxWidth)
        let layers = try r.int("num_layers", ["num_hidden_layers"], default: 18, in: 1...L.maxLayers)
        let vocab = try r.int("vocab_size", ["vocab_size"], default: 32000, in: 1...L.maxVocab)
        let state = try r.int("state_size", ["state_size"], default: 16, in: 1...L.maxStateSize)
        let conv = try r.int("conv_kernel", ["conv_kernel"], default: 4, in: 1...L.maxConvKernel)
        let inner = try HFMamba.innerSize(&r, field: "mamba_inner_size", hidden: hidden)
        let rank = try HFMamba.timeStepRank(&r, field: "time_step_rank", hidden: hidden)
        let bias = try r.flag("use_bias", ["use_bias"], default: false)
        r.derived("use_conv_bias", "always (fla's Mamba layer is built with a conv bias whatever use_conv_bias says)")
        _ = try r.string(nil, ["hidden_act"], default: "swish", allowed: ["swish", "silu"], why: "the SwiGLU MLP; Rill does not implement powlu")
        let ratio = try r.int(nil, ["hidden_ratio"], default: 4, in: 1...64, nullIsDefault: true)
        // GatedMLP: int(d · r · 2 / 3) rounded up to a multiple of 256 (d·r·2 is exact in
        // Python's integers before the true division, so integer division agrees with it).
        let mlp = 256 * ((hidden * ratio * 2 / 3 + 255) / 256)
        r.derived("intermediate_size", "256·⌈⌊hidden_size · hidden_ratio (\(ratio)) · 2/3⌋ / 256⌉ (fla's GatedMLP)")
        let eps = try r.number("norm_epsilon", ["norm_eps"], default: 1e-5, expected: "a small positive number") { $0 > 0 && $0 < 1 }
        if let (key, v) = try r.lookup(["attnres_block_size"]), v != .null {
            throw r.error(key, "null (attention residuals are not implemented)", v)
        }
        let attention = try readAttention(&r, hidden: hidden, layers: layers)
        let tie = try r.flag("tie_word_embeddings", ["tie_word_embeddings"], default: false)
        let config = SambaConfig(
            hiddenSize: hidden, numLayers: layers, vocabSize: vocab, stateSize: state, convKernel: conv, mambaInnerSize: inner,
            timeStepRank: rank, useConvBias: true, useBias: bias, attentionLayers: attention.layers,
            numHeads: attention.heads, numKVHeads: attention.kvHeads, headDim: hidden / attention.heads,
            windowSize: attention.window, ropeTheta: Float(attention.theta), qkvBias: attention.bias,
            intermediateSize: mlp, normEpsilon: Float(eps), tieWordEmbeddings: tie)
        return (.samba(config), .flag(tie), inertKeys)
    }

    struct Attention {
        var layers: [Int], heads: Int, kvHeads: Int, window: Int, theta: Double, bias: Bool
    }

    /// `attn`: absent → fla's default; `null` → no attention layers; an object or a list of
    /// objects, each for the layers it names. Rill runs one setting for all attention layers,
    /// so specs that differ are refused.
    static func readAttention(_ r: inout ConfigReader, hidden: Int, layers: Int) throws(RillFileError) -> Attention {
        guard let (_, v) = try r.lookup(["attn"]) else {
            let d = defaultAttention
            guard hidden % d.heads == 0 else {
                throw r.error("attn", "an attention spec: fla's default has 18 heads, which do not divide hidden_size \(hidden)", found: "none")
            }
            for f in attentionFields { r.derived(f, "fla's default attn (layers 1, 3, …, 17 below num_hidden_layers, 18 heads, window 2048)") }
            return Attention(layers: d.layers.filter { $0 < layers }, heads: d.heads, kvHeads: d.kvHeads, window: d.window, theta: d.theta, bias: false)
        }
        let objects: [[String: JSONValue]]
        switch v {
        case .null:
            return noAttention(&r, "attn null")
        case let .object(o): objects = [o]
        case let .array(items):
            objects = try items.enumerated().map { (i, item) throws(RillFileError) in
                guard case let .object(o) = item else { throw r.error("attn[\(i)]", "an attention spec object", item) }
                return o
            }
            guard !objects.isEmpty else { return noAttention(&r, "attn []") }
        default:
            throw r.error("attn", "an attention spec object, a list of them, or null", v)
        }
        var specs: [Attention] = []
        var seen = Set<Int>()
        for (i, o) in objects.enumerated() {
            var a = r.nested(objects.count == 1 && !isList(v) ? "attn" : "attn[\(i)]", o)
            guard let (lk, lv) = try a.lookup(["layers"]), case let .array(items) = lv else {
                throw a.error("layers", "a list of layer indices", found: "none or another type")
            }
            var idx: [Int] = []
            for (j, item) in items.enumerated() {
                let l = try a.integer(item, key: "\(lk)[\(j)]", in: 0...(layers - 1))
                guard seen.insert(l).inserted else { throw a.error("\(lk)[\(j)]", "a layer named once", found: "\(l) again") }
                idx.append(l)
            }
            a.found("attention_layers", lk)
            let heads = try a.int("num_heads", ["num_heads"], default: nil, in: 1...ModelLimits.maxWidth)
            guard hidden % heads == 0 else { throw a.error("num_heads", "a divisor of hidden_size (\(hidden))", found: "\(heads)") }
            let kv = try a.int("num_kv_heads", ["num_kv_heads"], default: heads, in: 1...heads, nullIsDefault: true)
            guard heads % kv == 0 else { throw a.error("num_kv_heads", "a divisor of num_heads (\(heads))", found: "\(kv)") }
            let bias = try a.flag("qkv_bias", ["qkv_bias"], default: false)
            guard let (wk, wv) = try a.lookup(["window_size"]), wv != .null else {
                throw a.error("window_size", "a window (full attention needs memory that grows with the sequence; Rill keeps memory fixed)", found: "null")
            }
            let window = try a.integer(wv, key: wk, in: 1...ModelLimits.maxWindow)
            a.found("window_size", wk)
            let theta = try a.number("rope_theta", ["rope_theta"], default: 10000, expected: "a positive finite number") { $0 > 0 }
            a.derived("head_dim", "hidden_size / num_heads")
            specs.append(Attention(layers: idx, heads: heads, kvHeads: kv, window: window, theta: theta, bias: bias))
            r.absorb(a)
        }
        let first = specs[0]
        for (i, s) in specs.enumerated().dropFirst()
        where s.heads != first.heads || s.kvHeads != first.kvHeads || s.window != first.window || s.theta != first.theta || s.bias != first.bias {
            throw r.error("attn[\(i)]", "the same heads, window, rope_theta and qkv_bias as attn[0] (Rill runs one attention setting)", found: "a different spec")
        }
        return Attention(layers: specs.flatMap(\.layers).sorted(), heads: first.heads, kvHeads: first.kvHeads, window: first.window, theta: first.theta, bias: first.bias)
    }

    private static func isList(_ v: JSONValue) -> Bool {
        if case .array = v { return true }
        return false
    }

    /// `attn` null or `[]`: every layer is a Mamba layer. No layer reads the head settings;
    /// these keep the file's fields valid.
    private static func noAttention(_ r: inout ConfigReader, _ why: String) -> Attention {
        for f in attentionFields { r.derived(f, "\(why): no attention layers") }
        return Attention(layers: [], heads: 1, kvHeads: 1, window: 1, theta: 10000, bias: false)
    }

    static let attentionFields = ["attention_layers", "num_heads", "num_kv_heads", "window_size", "rope_theta", "qkv_bias", "head_dim"]
}
