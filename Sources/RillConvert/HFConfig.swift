import Foundation
import RillFormat

/// What the converter learns from a checkpoint's `config.json`.
public struct CheckpointConfig: Sendable {
    public var config: ModelConfig
    /// `architectures[0]`, else `model_type`.
    public var sourceArchitecture: String
    public var bosTokenID: Int?
    public var eosTokenID: Int?
}

/// Decodes `config.json` into a typed ``ModelConfig``.
///
/// The architecture is chosen by `model_type` (or `architectures[0]`); anything else is an
/// error listing the supported ones. Fields that change the maths but that Rill does not
/// implement (e.g. a TransNormerLLM `norm_type` other than `simplermsnorm`) are errors too,
/// never silently ignored.
public enum HFConfigDecoder {
    public static let supported = [
        "mamba (MambaForCausalLM)", "transnormer (TransnormerForCausalLM)", "samba (SambaForCausalLM)",
    ]

    public static func decode(path: String) throws(RillFileError) -> CheckpointConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .io(path: path, operation: "read", errno: errno == 0 ? ENOENT : errno)
        }
        return try decode(data: data, path: path)
    }

    public static func decode(data: Data, path: String) throws(RillFileError) -> CheckpointConfig {
        struct Probe: Decodable {
            let model_type: String?
            let architectures: [String]?
            let bos_token_id: Int?
            let eos_token_id: Int?
        }
        let probe: Probe
        do { probe = try JSONDecoder().decode(Probe.self, from: data) } catch {
            throw .badJSON(path: path, field: "config", reason: describeDecodingError(error))
        }
        let arch = probe.architectures?.first ?? ""
        let type = (probe.model_type ?? "").lowercased()
        let source = arch.isEmpty ? type : arch
        func decodeAs<T: Decodable>(_: T.Type) throws(RillFileError) -> T {
            do { return try JSONDecoder().decode(T.self, from: data) } catch {
                throw .badJSON(path: path, field: "config", reason: describeDecodingError(error))
            }
        }
        let config: ModelConfig
        if type == "mamba" || arch == "MambaForCausalLM" {
            config = try decodeAs(HFMambaConfig.self).modelConfig(path: path)
        } else if type == "transnormer" || arch == "TransnormerForCausalLM" {
            config = try decodeAs(HFTransNormerConfig.self).modelConfig(path: path)
        } else if type == "samba" || arch == "SambaForCausalLM" {
            config = try decodeAs(HFSambaConfig.self).modelConfig(path: path)
        } else {
            throw .unsupportedArchitecture(path: path, found: source.isEmpty ? "(no model_type or architectures)" : source, supported: supported)
        }
        try config.validate(path: path)
        try checkSpecialTokenIDs(bos: probe.bos_token_id, eos: probe.eos_token_id, path: path, field: "config")
        return CheckpointConfig(config: config, sourceArchitecture: source, bosTokenID: probe.bos_token_id, eosTokenID: probe.eos_token_id)
    }
}

/// Checks a size read from `config.json` against `range` before any arithmetic or allocation
/// uses it, so that a hostile value is an error naming the field, never an overflow trap.
func bounded(_ value: Int, _ field: String, _ range: ClosedRange<Int>, path: String) throws(RillFileError) -> Int {
    guard range.contains(value) else {
        throw .invalidField(path: path, field: field, expected: "\(range.lowerBound)…\(range.upperBound)", found: "\(value)")
    }
    return value
}

/// `time_step_rank` is an integer or the string "auto" (= ceil(hidden / 16)).
enum RankOrAuto: Decodable {
    case auto, value(Int)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) { self = .value(v); return }
        let s = try c.decode(String.self)
        guard s == "auto" else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an integer or \"auto\", found \"\(s)\"")
        }
        self = .auto
    }
    func resolve(hidden: Int) -> Int {
        switch self {
        case .auto: return (hidden + 15) / 16
        case let .value(v): return v
        }
    }
}

struct HFMambaConfig: Decodable {
    let hidden_size: Int
    let num_hidden_layers: Int
    let vocab_size: Int
    let state_size: Int?
    let conv_kernel: Int?
    let expand: Int?
    let intermediate_size: Int?
    let time_step_rank: RankOrAuto?
    let layer_norm_epsilon: Float?
    let use_conv_bias: Bool?
    let use_bias: Bool?
    let tie_word_embeddings: Bool?

    func modelConfig(path: String) throws(RillFileError) -> ModelConfig {
        // Bounded before `expand * hidden_size` and the "auto" rank are computed from them.
        let hidden_size = try bounded(hidden_size, "hidden_size", 1...ModelLimits.maxWidth, path: path)
        let expand = try bounded(self.expand ?? 2, "expand", 1...64, path: path)
        return .mamba(MambaConfig(
            hiddenSize: hidden_size, numLayers: num_hidden_layers, vocabSize: vocab_size,
            stateSize: state_size ?? 16, convKernel: conv_kernel ?? 4,
            intermediateSize: intermediate_size ?? expand * hidden_size,
            timeStepRank: (time_step_rank ?? .auto).resolve(hidden: hidden_size),
            layerNormEpsilon: layer_norm_epsilon ?? 1e-5, useConvBias: use_conv_bias ?? true,
            useBias: use_bias ?? false, tieWordEmbeddings: tie_word_embeddings ?? true))
    }
}

struct HFTransNormerConfig: Decodable {
    let decoder_embed_dim: Int
    let decoder_layers: Int
    let decoder_attention_heads: Int
    let hidden_dim: Int
    let glu_dim: Int
    let vocab_size: Int
    let linear_use_lrpe_list: [Int]?
    let linear_use_lrpe: Int?
    let no_scale_embedding: Bool?
    let norm_type: String?
    let linear_act_fun: String?
    let bias: Bool?
    let tie_word_embeddings: Bool?

    func modelConfig(path: String) throws(RillFileError) -> ModelConfig {
        let norm = norm_type ?? "simplermsnorm"
        guard norm == "simplermsnorm" else {
            throw .invalidField(path: path, field: "norm_type", expected: "simplermsnorm (the only norm Rill implements)", found: norm)
        }
        let act = linear_act_fun ?? "silu"
        guard act == "silu" || act == "swish" else {
            throw .invalidField(path: path, field: "linear_act_fun", expected: "silu (the only activation Rill implements)", found: act)
        }
        guard bias != true else {
            throw .invalidField(path: path, field: "bias", expected: "false (linear biases are not implemented)", found: "true")
        }
        guard decoder_layers >= 2 else {
            // The reference scales slopes by 1 − i/(L−1), undefined for one layer.
            throw .invalidField(path: path, field: "decoder_layers", expected: "at least 2", found: "\(decoder_layers)")
        }
        // Bounded before the per-layer LRPE list is allocated from it.
        let decoder_layers = try bounded(decoder_layers, "decoder_layers", 2...ModelLimits.maxLayers, path: path)
        let glu = glu_dim == -1 ? decoder_embed_dim : glu_dim
        let list = linear_use_lrpe_list ?? []
        let lrpe: [Bool]
        if list.isEmpty {
            lrpe = Array(repeating: (linear_use_lrpe ?? 0) != 0, count: decoder_layers)
        } else {
            guard list.count == decoder_layers else {
                throw .invalidField(path: path, field: "linear_use_lrpe_list", expected: "\(decoder_layers) entries", found: "\(list.count)")
            }
            lrpe = list.map { $0 != 0 }
        }
        if lrpe.contains(true) && hidden_dim != decoder_embed_dim {
            // The reference sizes LRPE's θ by decoder_embed_dim / heads but applies it to
            // hidden_dim / heads wide heads: it only runs when the two are equal.
            throw .invalidField(path: path, field: "hidden_dim", expected: "equal to decoder_embed_dim (\(decoder_embed_dim)) when LRPE is used", found: "\(hidden_dim)")
        }
        return .transnormer(TransNormerConfig(
            embedDim: decoder_embed_dim, hiddenDim: hidden_dim, numLayers: decoder_layers,
            numHeads: decoder_attention_heads, gluDim: glu, vocabSize: vocab_size, lrpeLayers: lrpe,
            noScaleEmbedding: no_scale_embedding ?? false, normEpsilon: 1e-6,
            tieWordEmbeddings: tie_word_embeddings ?? false))
    }
}

/// flash-linear-attention's `SambaConfig`.
struct HFSambaConfig: Decodable {
    struct Attn: Decodable {
        let layers: [Int]
        let num_heads: Int
        let num_kv_heads: Int?
        let qkv_bias: Bool?
        let window_size: Int?
        let rope_theta: Float?
    }
    enum AttnField: Decodable {
        case one(Attn), many([Attn])
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let a = try? c.decode(Attn.self) { self = .one(a) } else { self = .many(try c.decode([Attn].self)) }
        }
    }
    let hidden_size: Int
    let num_hidden_layers: Int
    let vocab_size: Int
    let state_size: Int?
    let expand: Int?
    let conv_kernel: Int?
    let use_bias: Bool?
    let use_conv_bias: Bool?
    let hidden_act: String?
    let time_step_rank: RankOrAuto?
    let norm_eps: Float?
    let attn: AttnField?
    let hidden_ratio: Int?
    let tie_word_embeddings: Bool?
    let attnres_block_size: Int?

    func modelConfig(path: String) throws(RillFileError) -> ModelConfig {
        // Bounded before the head, MLP and inner widths are computed from it.
        let hidden_size = try bounded(hidden_size, "hidden_size", 1...ModelLimits.maxWidth, path: path)
        let act = hidden_act ?? "swish"
        guard act == "swish" || act == "silu" else {
            throw .invalidField(path: path, field: "hidden_act", expected: "swish (SwiGLU MLP)", found: act)
        }
        guard attnres_block_size == nil else {
            throw .invalidField(path: path, field: "attnres_block_size", expected: "null (attention residuals are not implemented)", found: "\(attnres_block_size!)")
        }
        let specs: [Attn]
        switch attn {
        case nil:
            throw .invalidField(path: path, field: "attn", expected: "an attention spec {layers, num_heads, window_size, …}", found: "none")
        case let .one(a): specs = [a]
        case let .many(list): specs = list
        }
        guard let a = specs.first, specs.dropFirst().allSatisfy({
            $0.num_heads == a.num_heads && $0.num_kv_heads == a.num_kv_heads && $0.window_size == a.window_size
                && $0.rope_theta == a.rope_theta && $0.qkv_bias == a.qkv_bias
        }) else {
            throw .invalidField(path: path, field: "attn", expected: "one attention spec shared by all attention layers", found: "\(specs.count) different specs")
        }
        guard let window = a.window_size else {
            throw .invalidField(path: path, field: "attn.window_size", expected: "a window (full attention needs memory that grows with the sequence)", found: "null")
        }
        guard a.num_heads > 0, hidden_size % a.num_heads == 0 else {
            throw .invalidField(path: path, field: "attn.num_heads", expected: "a divisor of hidden_size (\(hidden_size))", found: "\(a.num_heads)")
        }
        let ratio = try bounded(hidden_ratio ?? 4, "hidden_ratio", 1...64, path: path)
        // GatedMLP: a multiple of 256 at or above 2/3 · hidden · ratio.
        let mlp = 256 * ((hidden_size * ratio * 2 / 3 + 255) / 256)
        let expand = try bounded(self.expand ?? 2, "expand", 1...64, path: path)
        return .samba(SambaConfig(
            hiddenSize: hidden_size, numLayers: num_hidden_layers, vocabSize: vocab_size,
            stateSize: state_size ?? 16, convKernel: conv_kernel ?? 4, mambaInnerSize: expand * hidden_size,
            timeStepRank: (time_step_rank ?? .auto).resolve(hidden: hidden_size),
            useConvBias: use_conv_bias ?? true, useBias: use_bias ?? false,
            attentionLayers: specs.flatMap(\.layers).sorted(), numHeads: a.num_heads,
            numKVHeads: a.num_kv_heads ?? a.num_heads, headDim: hidden_size / a.num_heads, windowSize: window,
            ropeTheta: a.rope_theta ?? 10000, qkvBias: a.qkv_bias ?? false, intermediateSize: mlp,
            normEpsilon: norm_eps ?? 1e-5, tieWordEmbeddings: tie_word_embeddings ?? false))
    }
}
