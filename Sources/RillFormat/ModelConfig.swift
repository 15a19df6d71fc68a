/// The architecture of a model and its hyper-parameters: exactly one of the supported kinds.
public enum ModelConfig: Sendable, Equatable {
    case mamba(MambaConfig)
    case transnormer(TransNormerConfig)
    case samba(SambaConfig)
    /// SUBLLM, and plain LLaMA as its bracket-free case.
    case subllm(SubllmConfig)

    /// The names written in the metadata's `architecture` field.
    public static let supportedArchitectures = ["mamba", "transnormer", "samba", "subllm"]

    public var architecture: String {
        switch self {
        case .mamba: return "mamba"
        case .transnormer: return "transnormer"
        case .samba: return "samba"
        case .subllm: return "subllm"
        }
    }

    public var vocabSize: Int {
        switch self {
        case let .mamba(c): return c.vocabSize
        case let .transnormer(c): return c.vocabSize
        case let .samba(c): return c.vocabSize
        case let .subllm(c): return c.vocabSize
        }
    }

    public var numLayers: Int {
        switch self {
        case let .mamba(c): return c.numLayers
        case let .transnormer(c): return c.numLayers
        case let .samba(c): return c.numLayers
        case let .subllm(c): return c.numLayers
        }
    }

    public var hiddenSize: Int {
        switch self {
        case let .mamba(c): return c.hiddenSize
        case let .transnormer(c): return c.embedDim
        case let .samba(c): return c.hiddenSize
        case let .subllm(c): return c.hiddenSize
        }
    }

    /// Checks that sizes are positive, consistent and below the bounds every allocation relies
    /// on (`ModelLimits`); `path` names the file in errors.
    public func validate(path: String) throws(RillFileError) {
        func check(_ field: String, _ v: Int, _ range: ClosedRange<Int>) throws(RillFileError) {
            guard range.contains(v) else {
                throw .invalidField(path: path, field: "config.\(field)", expected: "\(range.lowerBound)…\(range.upperBound)", found: "\(v)")
            }
        }
        func checkEps(_ field: String, _ v: Float) throws(RillFileError) {
            guard v.isFinite, v > 0, v < 1 else {
                throw .invalidField(path: path, field: "config.\(field)", expected: "a small positive number", found: "\(v)")
            }
        }
        let L = ModelLimits.self
        switch self {
        case let .mamba(c):
            try check("hidden_size", c.hiddenSize, 1...L.maxWidth)
            try check("num_layers", c.numLayers, 1...L.maxLayers)
            try check("vocab_size", c.vocabSize, 1...L.maxVocab)
            try check("state_size", c.stateSize, 1...L.maxStateSize)
            try check("conv_kernel", c.convKernel, 1...L.maxConvKernel)
            try check("intermediate_size", c.intermediateSize, 1...L.maxWidth * 4)
            try check("time_step_rank", c.timeStepRank, 1...L.maxWidth)
            try checkEps("layer_norm_epsilon", c.layerNormEpsilon)
        case let .transnormer(c):
            try check("embed_dim", c.embedDim, 1...L.maxWidth)
            try check("hidden_dim", c.hiddenDim, 1...L.maxWidth)
            try check("num_layers", c.numLayers, 1...L.maxLayers)
            try check("num_heads", c.numHeads, 1...c.hiddenDim)
            try check("glu_dim", c.gluDim, 1...L.maxWidth * 8)
            try check("vocab_size", c.vocabSize, 1...L.maxVocab)
            try checkEps("norm_epsilon", c.normEpsilon)
            guard c.hiddenDim % c.numHeads == 0 else {
                throw .invalidField(path: path, field: "config.hidden_dim", expected: "a multiple of num_heads (\(c.numHeads))", found: "\(c.hiddenDim)")
            }
            guard c.lrpeLayers.count == c.numLayers else {
                throw .invalidField(path: path, field: "config.lrpe_layers", expected: "\(c.numLayers) entries", found: "\(c.lrpeLayers.count)")
            }
        case let .subllm(c):
            try check("hidden_size", c.hiddenSize, 1...L.maxWidth)
            try check("num_layers", c.numLayers, 1...L.maxLayers)
            try check("vocab_size", c.vocabSize, 1...L.maxVocab)
            try check("num_heads", c.numHeads, 1...L.maxWidth)
            try check("num_kv_heads", c.numKVHeads, 1...c.numHeads)
            try check("head_dim", c.headDim, 2...1024)
            try check("intermediate_size", c.intermediateSize, 1...L.maxWidth * 8)
            try check("max_positions", c.maxPositions, 1...L.maxContext)
            try checkEps("norm_epsilon", c.normEpsilon)
            guard c.numHeads % c.numKVHeads == 0 else {
                throw .invalidField(path: path, field: "config.num_kv_heads", expected: "a divisor of num_heads (\(c.numHeads))", found: "\(c.numKVHeads)")
            }
            guard c.headDim % 2 == 0 else {
                throw .invalidField(path: path, field: "config.head_dim", expected: "an even number (RoPE)", found: "\(c.headDim)")
            }
            guard c.numHeads * c.headDim <= L.maxWidth else {
                throw .invalidField(path: path, field: "config.head_dim", expected: "num_heads · head_dim ≤ \(L.maxWidth)", found: "\(c.numHeads) · \(c.headDim)")
            }
            guard c.embeddingScale.isFinite, c.embeddingScale > 0 else {
                throw .invalidField(path: path, field: "config.embedding_scale", expected: "a positive number", found: "\(c.embeddingScale)")
            }
            do {
                _ = try SubllmStructure(c.structure, layers: c.numLayers)
            } catch {
                throw .invalidField(path: path, field: "config.structure", expected: "a structure of T, ( and )", found: "\"\(c.structure.prefix(80))\": \(error)")
            }
        case let .samba(c):
            try check("hidden_size", c.hiddenSize, 1...L.maxWidth)
            try check("num_layers", c.numLayers, 1...L.maxLayers)
            try check("vocab_size", c.vocabSize, 1...L.maxVocab)
            try check("state_size", c.stateSize, 1...L.maxStateSize)
            try check("conv_kernel", c.convKernel, 1...L.maxConvKernel)
            try check("mamba_inner_size", c.mambaInnerSize, 1...L.maxWidth * 4)
            try check("time_step_rank", c.timeStepRank, 1...L.maxWidth)
            try check("intermediate_size", c.intermediateSize, 1...L.maxWidth * 8)
            try checkEps("norm_epsilon", c.normEpsilon)
            for l in c.attentionLayers where !(0..<c.numLayers).contains(l) {
                throw .invalidField(path: path, field: "config.attention_layers", expected: "layer indices below \(c.numLayers)", found: "\(l)")
            }
            // The head settings matter only where a layer attends (a model may have none).
            guard !c.attentionLayers.isEmpty else { return }
            try check("num_heads", c.numHeads, 1...L.maxWidth)
            try check("num_kv_heads", c.numKVHeads, 1...c.numHeads)
            try check("head_dim", c.headDim, 2...1024)
            try check("window_size", c.windowSize, 1...L.maxWindow)
            guard c.numHeads % c.numKVHeads == 0 else {
                throw .invalidField(path: path, field: "config.num_kv_heads", expected: "a divisor of num_heads (\(c.numHeads))", found: "\(c.numKVHeads)")
            }
            guard c.headDim % 2 == 0 else {
                throw .invalidField(path: path, field: "config.head_dim", expected: "an even number (RoPE)", found: "\(c.headDim)")
            }
            guard c.ropeTheta.isFinite, c.ropeTheta > 0 else {
                throw .invalidField(path: path, field: "config.rope_theta", expected: "a positive number", found: "\(c.ropeTheta)")
            }
            // The key and value rings (2 · W · Hkv · D f32 per attention layer) are the one state
            // no tensor in the file backs: bound them so a small file cannot demand terabytes.
            // Each factor is bounded above, so the product cannot overflow.
            let ringBytes = 2 * c.windowSize * c.numKVHeads * c.headDim * 4 * Set(c.attentionLayers).count
            guard ringBytes <= L.maxWindowStateBytes else {
                throw .invalidField(path: path, field: "config.window_size", expected: "attention rings of at most \(L.maxWindowStateBytes >> 20) MiB (2 · window · num_kv_heads · head_dim · 4 B · attention layers)", found: "\(c.windowSize), giving \(ringBytes >> 20) MiB")
            }
        }
    }
}

/// Bounds on every size read from an untrusted file, checked before anything is allocated.
/// Generous for real models (Mamba-2.8B has d 2560, 64 layers, vocab 50280).
public enum ModelLimits {
    public static let maxWidth = 65_536
    public static let maxLayers = 1_024
    public static let maxVocab = 4_000_000
    public static let maxStateSize = 1_024
    public static let maxConvKernel = 64
    public static let maxWindow = 1 << 20
    /// Longest context a SUBLLM/LLaMA session may reserve keys and values for.
    public static let maxContext = 1 << 24
    /// Bytes of SAMBA's sliding-window key/value rings over all attention layers (4 GiB; a
    /// 2,048-token window over 16 attention layers 3,072 wide takes 0.8 GB).
    public static let maxWindowStateBytes = 4 << 30
    public static let maxTensors = 1 << 20
    public static let maxRank = 4
    public static let maxNameLength = 1_024
    public static let maxMetadataBytes = 64 << 20
    public static let maxTokenizerBytes = 256 << 20
}
