import Foundation
import RillFormat

/// What the converter learns from a checkpoint's `config.json`.
public struct CheckpointConfig: Sendable {
    public var config: ModelConfig
    /// `architectures[0]`, else `model_type`.
    public var sourceArchitecture: String
    public var bosTokenID: Int?
    public var eosTokenID: Int?
    /// Where each key of `config` came from.
    public var sources: [String: ConfigSource]
    /// How the LM head is chosen once the checkpoint's tensors are known (``TieRule``).
    public var tie: TieRule
    /// `dtype`, else `torch_dtype`, when the file names one.
    public var sourceDType: String?
    /// Keys of `config.json` that neither the reference nor Rill reads: ignored, listed by
    /// `rill convert --verbose`.
    public var unknownKeys: [String]
    /// Keys the reference defines but that do not change inference (initialisation,
    /// training, caching and generation settings): ignored too.
    public var inertKeys: [String]
    /// Whose checkpoint layout the tensors follow.
    public var layout: SourceLayout
    /// SUBLLM/LLaMA: the RoPE the converter turns into `rope.inv_freq`.
    var rope: LlamaRoPE?
}

/// The reference implementation whose config and tensor names a checkpoint follows.
public enum SourceLayout: String, Sendable {
    case mamba, transnormer, samba, subllm, llama
}

/// How the reference decides whether the LM head is the embedding matrix.
///
/// transformers 5.x ties only when the config asks for it, and then not when the checkpoint
/// holds an `lm_head.weight` that differs from the embedding (it warns and keeps both);
/// transformers 4.x tied by default a config class that does not set the flag
/// (TransNormerLLM's), which a checkpoint saved without `lm_head.weight` shows.
public enum TieRule: Sendable, Equatable {
    /// The config sets the flag (or the class defaults it): tied when true, unless the head
    /// is stored and differs.
    case flag(Bool)
    /// The model shares one parameter between embedding and head when true (SUBLLM's
    /// `tie_weights`): a stored head that differs is refused, since loading both would keep
    /// whichever the state dict lists last.
    case shared(Bool)
    /// The class leaves the flag unset: tied exactly when no `lm_head.weight` is stored.
    case unsetTiedWhenHeadAbsent
}

/// Decodes `config.json` into a typed ``ModelConfig`` the way each architecture's reference
/// implementation reads it (field by field, `Formats/rill.md` §4.3).
///
/// The architecture is chosen by `model_type`, else `architectures[0]`; anything else is an
/// error listing the supported ones. Fields that change the maths in ways Rill does not
/// implement (e.g. a TransNormerLLM `norm_type` other than `simplermsnorm`) are errors naming
/// the field, never silently ignored.
public enum HFConfigDecoder {
    public static let supported = [
        "mamba (MambaForCausalLM)", "transnormer (TransnormerForCausalLM)", "samba (SambaForCausalLM)",
        "subllm (SubllmModel)", "llama (LlamaForCausalLM)",
    ]

    /// The reference families by `model_type` and by class name.
    typealias Family = SourceLayout
    static let modelTypes: [String: Family] = [
        "mamba": .mamba, "transnormer": .transnormer, "samba": .samba, "subllm": .subllm, "llama": .llama,
    ]
    static let classNames: [String: Family] = [
        "MambaForCausalLM": .mamba, "MambaModel": .mamba,
        "TransnormerForCausalLM": .transnormer, "TransnormerModel": .transnormer,
        "SambaForCausalLM": .samba, "SambaModel": .samba,
        "SubllmModel": .subllm, "SubllmForCausalLM": .subllm,
        "LlamaForCausalLM": .llama, "LlamaModel": .llama,
    ]

    public static func decode(path: String) throws(RillFileError) -> CheckpointConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .io(path: path, operation: "read", errno: errno == 0 ? ENOENT : errno)
        }
        return try decode(data: data, path: path)
    }

    public static func decode(data: Data, path: String) throws(RillFileError) -> CheckpointConfig {
        var r = ConfigReader(try JSONValue.object(from: data, path: path), path: path)
        let type = try r.string(nil, ["model_type"], default: "")
        var archs: [String] = []
        if let (_, v) = try r.lookup(["architectures"]) {
            switch v {
            case .null: break
            case let .array(items):
                for item in items {
                    guard case let .string(s) = item else { throw r.error("architectures", "a list of class names", v) }
                    archs.append(s)
                }
            default: throw r.error("architectures", "a list of class names", v)
            }
        }
        let arch = archs.first ?? ""
        let source = arch.isEmpty ? type : arch
        let byType = modelTypes[type.lowercased()]
        let byClass = classNames[arch]
        if let byType, let byClass, byType != byClass {
            throw r.error("architectures", "a class of model_type '\(type)'", found: "\"\(arch)\"")
        }
        guard let family = byType ?? byClass else {
            throw .unsupportedArchitecture(path: path, found: source.isEmpty ? "(no model_type or architectures)" : source, supported: supported)
        }
        if r.has("quantization_config") {
            // GPTQ/AWQ/bitsandbytes store packed integer weights under other names: say so
            // rather than fail later on a tensor.
            throw r.error("quantization_config", "none (a pre-quantised checkpoint cannot be converted; convert the original float weights)", found: "an object")
        }

        let read: (config: ModelConfig, tie: TieRule, inert: Set<String>)
        var rope: LlamaRoPE?
        switch family {
        case .mamba: read = try HFMamba.read(&r)
        case .transnormer: read = try HFTransNormer.read(&r)
        case .samba: read = try HFSamba.read(&r)
        case .subllm:
            let s = try HFSubllm.read(&r)
            (read, rope) = ((s.config, s.tie, s.inert), s.rope)
        case .llama:
            let l = try HFLlama.read(&r)
            (read, rope) = ((l.config, l.tie, l.inert), l.rope)
        }
        try read.config.validate(path: path)

        let bos = try specialTokenID(&r, "bos_token_id")
        let eos = try specialTokenID(&r, "eos_token_id")
        // transformers 5 renamed torch_dtype to dtype and keeps dtype when both are given.
        var dtype = try r.lookup(["dtype"])
        if dtype == nil || dtype?.value == .null { dtype = try r.lookup(["torch_dtype"]) }
        var sourceDType: String?
        if let (key, v) = dtype, v != .null {
            guard case let .string(s) = v else { throw r.error(key, "a dtype name such as \"bfloat16\"", v) }
            sourceDType = s
        }
        r.consult(inertBaseKeys)
        r.consult(read.inert)
        let unknown = r.unread.sorted()
        let inertPresent = r.keys.filter { inertBaseKeys.contains($0) || read.inert.contains($0) }.sorted()
        return CheckpointConfig(
            config: read.config, sourceArchitecture: source, bosTokenID: bos, eosTokenID: eos, sources: r.sources,
            tie: read.tie, sourceDType: sourceDType, unknownKeys: unknown, inertKeys: inertPresent, layout: family, rope: rope)
    }

    /// A special token id: an integer, `null`, or — as generation configs allow — a list of
    /// integers, whose first is taken (Rill stops on one end token).
    static func specialTokenID(_ r: inout ConfigReader, _ key: String) throws(RillFileError) -> Int? {
        guard let (_, v) = try r.lookup([key]) else { return nil }
        let range = 0...Int(Int32.max)
        switch v {
        case .null: return nil
        case let .array(items):
            guard let first = items.first else { return nil }
            return try r.integer(first, key: key, in: range)
        default:
            return try r.integer(v, key: key, in: range)
        }
    }

    /// `PretrainedConfig`'s own keys (4.x and 5.x) and the generation settings older
    /// versions stored in the model config: none changes a forward pass.
    static let inertBaseKeys: Set<String> = [
        "_name_or_path", "_commit_hash", "_attn_implementation", "transformers_version", "auto_map", "use_cache",
        "return_dict", "output_hidden_states", "output_attentions", "torchscript", "use_bfloat16", "tf_legacy_loss",
        "pruned_heads", "chunk_size_feed_forward", "is_encoder_decoder", "is_decoder", "cross_attention_hidden_size",
        "add_cross_attention", "tie_encoder_decoder", "finetuning_task", "id2label", "label2id", "tokenizer_class",
        "prefix", "pad_token_id", "sep_token_id", "decoder_start_token_id", "task_specific_params", "problem_type",
        "max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups", "diversity_penalty",
        "temperature", "top_k", "top_p", "typical_p", "repetition_penalty", "length_penalty", "no_repeat_ngram_size",
        "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences", "output_scores",
        "return_dict_in_generate", "forced_bos_token_id", "forced_eos_token_id", "remove_invalid_values",
        "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens", "initializer_range",
    ]
}

extension ModelConfig {

    /// This configuration with the LM head tied to the embedding or not.
    func withTiedHead(_ tied: Bool) -> ModelConfig {
        switch self {
        case var .mamba(c): c.tieWordEmbeddings = tied; return .mamba(c)
        case var .transnormer(c): c.tieWordEmbeddings = tied; return .transnormer(c)
        case var .samba(c): c.tieWordEmbeddings = tied; return .samba(c)
        case var .subllm(c): c.tieWordEmbeddings = tied; return .subllm(c)
        }
    }
}
