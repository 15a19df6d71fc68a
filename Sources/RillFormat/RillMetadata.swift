/// The metadata section of a `.rill` file (UTF-8 JSON, `Formats/rill.md` §4).
public struct RillMetadata: Sendable, Equatable {
    public var config: ModelConfig
    /// Special token ids from the checkpoint's config (nil when it names none).
    public var bosTokenID: Int?
    public var eosTokenID: Int?
    /// What the tokenizer section holds, nil when the file carries no tokenizer.
    public var tokenizer: TokenizerInfo?
    public var provenance: Provenance
    /// The `--quant` the file was converted with and the per-tensor overrides applied.
    public var quantization: QuantizationInfo
    /// Where each key of `config` came from (format 2.1); nil in files of earlier converters.
    public var configSources: [String: ConfigSource]?

    public init(
        config: ModelConfig, bosTokenID: Int?, eosTokenID: Int?, tokenizer: TokenizerInfo?,
        provenance: Provenance, quantization: QuantizationInfo, configSources: [String: ConfigSource]? = nil
    ) {
        self.config = config
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.tokenizer = tokenizer
        self.provenance = provenance
        self.quantization = quantization
        self.configSources = configSources
    }
}

extension RillMetadata {
    /// The lowest minor version of format 2 that holds everything in this metadata (§11).
    public var minimumMinorVersion: UInt16 {
        if quantization.calibration != nil { return 5 }
        if tokenizer?.chatTemplate != nil { return 3 }
        if case .subllm = config { return 2 }
        return configSources != nil || provenance.sourceDType != nil ? 1 : 0
    }
}

public struct TokenizerInfo: Codable, Sendable, Equatable {
    /// `hf-tokenizer-json`: the section holds a Hugging Face `tokenizer.json` verbatim;
    /// `sentencepiece-model`: a SentencePiece `tokenizer.model` (protobuf) verbatim.
    public var format: String
    /// The tokenizer model type (`BPE (byte-level)`, `SentencePiece unigram`, …) and its
    /// vocabulary size.
    public var model: String
    public var vocabSize: Int
    /// Whether encoding a text starts it with the BOS token (the checkpoint's
    /// `add_bos_token`). Absent in files of earlier converters: false.
    public var addBOS: Bool
    /// The checkpoint's chat template (Jinja, `tokenizer_config.json`'s `chat_template`), for
    /// `rill serve` and `rill chat` (format 2.3); nil when it has none.
    public var chatTemplate: String?

    public init(format: String, model: String, vocabSize: Int, addBOS: Bool = false, chatTemplate: String? = nil) {
        self.format = format
        self.model = model
        self.vocabSize = vocabSize
        self.addBOS = addBOS
        self.chatTemplate = chatTemplate
    }

    enum CodingKeys: String, CodingKey {
        case format, model, vocabSize = "vocab_size", addBOS = "add_bos", chatTemplate = "chat_template"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        model = try c.decode(String.self, forKey: .model)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        addBOS = try c.decodeIfPresent(Bool.self, forKey: .addBOS) ?? false
        chatTemplate = try c.decodeIfPresent(String.self, forKey: .chatTemplate)
    }
}

public struct Provenance: Codable, Sendable, Equatable {
    /// e.g. `rill 0.1.0`.
    public var converter: String
    /// The checkpoint's `architectures[0]` / `model_type` as found.
    public var sourceArchitecture: String
    /// Source files with their sizes and XXH64.
    public var sourceFiles: [SourceFile]
    /// The checkpoint's `dtype` (or the older `torch_dtype`), e.g. `bfloat16`, when it names
    /// one (format 2.1). Informative: the safetensors headers are the authority on each tensor.
    public var sourceDType: String?

    public init(converter: String, sourceArchitecture: String, sourceFiles: [SourceFile], sourceDType: String? = nil) {
        self.converter = converter
        self.sourceArchitecture = sourceArchitecture
        self.sourceFiles = sourceFiles
        self.sourceDType = sourceDType
    }

    public struct SourceFile: Codable, Sendable, Equatable {
        public var name: String
        public var bytes: Int
        public var xxh64: String
        public init(name: String, bytes: Int, xxh64: String) {
            self.name = name
            self.bytes = bytes
            self.xxh64 = xxh64
        }
    }

    enum CodingKeys: String, CodingKey {
        case converter, sourceArchitecture = "source_architecture", sourceFiles = "source_files"
        case sourceDType = "source_dtype"
    }
}

public struct QuantizationInfo: Codable, Sendable, Equatable {
    public var requested: String
    public var overrides: [String]
    /// The text `--calibrate` ran the float model over (format 2.5); nil when none.
    public var calibration: CalibrationInfo?
    public init(requested: String, overrides: [String], calibration: CalibrationInfo? = nil) {
        self.requested = requested
        self.overrides = overrides
        self.calibration = calibration
    }
}

/// What a calibrated conversion measured its activation statistics on (`Formats/rill.md` §4.5).
public struct CalibrationInfo: Codable, Sendable, Equatable {
    /// The text file's name (no directory), size and XXH64 (`"0x"` + 16 hex digits).
    public var file: String
    public var bytes: Int
    public var xxh64: String
    /// Tokens the float model ran over, in chunks of `context` tokens each from an empty state.
    public var tokens: Int
    public var context: Int

    public init(file: String, bytes: Int, xxh64: String, tokens: Int, context: Int) {
        self.file = file
        self.bytes = bytes
        self.xxh64 = xxh64
        self.tokens = tokens
        self.context = context
    }
}

extension RillMetadata: Codable {
    enum CodingKeys: String, CodingKey {
        case architecture, config, bosTokenID = "bos_token_id", eosTokenID = "eos_token_id"
        case tokenizer, provenance, quantization, configSources = "config_sources"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let arch = try c.decode(String.self, forKey: .architecture)
        switch arch {
        case "mamba": config = .mamba(try c.decode(MambaConfig.self, forKey: .config))
        case "transnormer": config = .transnormer(try c.decode(TransNormerConfig.self, forKey: .config))
        case "samba": config = .samba(try c.decode(SambaConfig.self, forKey: .config))
        case "subllm": config = .subllm(try c.decode(SubllmConfig.self, forKey: .config))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .architecture, in: c,
                debugDescription: "unknown architecture '\(arch)' (supported: \(ModelConfig.supportedArchitectures.joined(separator: ", ")))")
        }
        bosTokenID = try c.decodeIfPresent(Int.self, forKey: .bosTokenID)
        eosTokenID = try c.decodeIfPresent(Int.self, forKey: .eosTokenID)
        tokenizer = try c.decodeIfPresent(TokenizerInfo.self, forKey: .tokenizer)
        provenance = try c.decode(Provenance.self, forKey: .provenance)
        quantization = try c.decode(QuantizationInfo.self, forKey: .quantization)
        configSources = try c.decodeIfPresent([String: ConfigSource].self, forKey: .configSources)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(config.architecture, forKey: .architecture)
        switch config {
        case let .mamba(m): try c.encode(m, forKey: .config)
        case let .transnormer(t): try c.encode(t, forKey: .config)
        case let .samba(s): try c.encode(s, forKey: .config)
        case let .subllm(s): try c.encode(s, forKey: .config)
        }
        try c.encodeIfPresent(bosTokenID, forKey: .bosTokenID)
        try c.encodeIfPresent(eosTokenID, forKey: .eosTokenID)
        try c.encodeIfPresent(tokenizer, forKey: .tokenizer)
        try c.encode(provenance, forKey: .provenance)
        try c.encode(quantization, forKey: .quantization)
        try c.encodeIfPresent(configSources, forKey: .configSources)
    }
}
