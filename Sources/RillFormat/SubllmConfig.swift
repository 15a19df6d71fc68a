/// Hyper-parameters of a SUBLLM model (XiaoMi's token-subsampling decoder, `DESIGN.md` §3.4),
/// as stored in a `.rill` file; a structure without brackets is a plain LLaMA
/// (`LlamaForCausalLM`), which converts to this architecture too.
///
/// Every block is pre-norm: `x += Attention(RMSNorm(x)); x += SwiGLU(RMSNorm(x))`, softmax
/// attention with RoPE over a key/value cache reserved for the session's context; final
/// RMSNorm, LM head. Brackets of ``structure`` subsample the tokens their blocks see.
public struct SubllmConfig: Codable, Sendable, Equatable {
    /// Model width d.
    public var hiddenSize: Int
    /// Decoder blocks (the `T`s of `structure`).
    public var numLayers: Int
    /// Query heads H.
    public var numHeads: Int
    /// Key/value heads (H for SUBLLM; LLaMA's grouped-query attention may have fewer).
    public var numKVHeads: Int
    /// Head width D (d / H unless the checkpoint says otherwise).
    public var headDim: Int
    /// SwiGLU inner width F.
    public var intermediateSize: Int
    public var vocabSize: Int
    /// `T` a block, `(` a subsampler, `)` its upsampler and bypass; brackets nest.
    public var structure: String
    /// ε of every RMSNorm.
    public var normEpsilon: Float
    /// RoPE base (informative: the inverse frequencies, scaling applied, are the tensor
    /// `rope.inv_freq`).
    public var ropeTheta: Float
    /// RoPE scaling as the checkpoint states it (`none`, `linear 4`, `llama3 8/1/4/8192`),
    /// informative.
    public var ropeScaling: String
    /// Biases on the query and key projections.
    public var qkBias: Bool
    /// Biases on the value and output projections.
    public var voBias: Bool
    /// The embedding is multiplied by this (1, or √d).
    public var embeddingScale: Float
    /// Positions the model was trained for: the default context a session reserves.
    public var maxPositions: Int
    /// SUBLLM's training keep rate (`downsampling_factor_denominator`), informative; nil for
    /// LLaMA.
    public var keepRate: Double?
    public var tieWordEmbeddings: Bool

    public init(
        hiddenSize: Int, numLayers: Int, numHeads: Int, numKVHeads: Int, headDim: Int, intermediateSize: Int,
        vocabSize: Int, structure: String, normEpsilon: Float, ropeTheta: Float, ropeScaling: String, qkBias: Bool,
        voBias: Bool, embeddingScale: Float, maxPositions: Int, keepRate: Double?, tieWordEmbeddings: Bool
    ) {
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.intermediateSize = intermediateSize
        self.vocabSize = vocabSize
        self.structure = structure
        self.normEpsilon = normEpsilon
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.qkBias = qkBias
        self.voBias = voBias
        self.embeddingScale = embeddingScale
        self.maxPositions = maxPositions
        self.keepRate = keepRate
        self.tieWordEmbeddings = tieWordEmbeddings
    }

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", numLayers = "num_layers", numHeads = "num_heads", numKVHeads = "num_kv_heads"
        case headDim = "head_dim", intermediateSize = "intermediate_size", vocabSize = "vocab_size", structure
        case normEpsilon = "norm_epsilon", ropeTheta = "rope_theta", ropeScaling = "rope_scaling", qkBias = "qk_bias"
        case voBias = "vo_bias", embeddingScale = "embedding_scale", maxPositions = "max_positions"
        case keepRate = "keep_rate", tieWordEmbeddings = "tie_word_embeddings"
    }

    /// The structure, parsed (valid in any config that passed ``ModelConfig/validate(path:)``).
    public var program: SubllmStructure { (try? SubllmStructure(structure, layers: numLayers)) ?? SubllmStructure(plain: numLayers) }

    /// Whether this is a plain LLaMA: no brackets.
    public var isPlainLLaMA: Bool { !structure.contains("(") }
}

/// A SUBLLM `structure` string as the sequence of operations a forward pass runs.
///
/// `T` runs the next decoder block on the tokens of the current bracket; `(` opens bracket k
/// (the k-th `(` from the left): its subsampler scores the current tokens and keeps those with
/// a positive score; `)` closes the innermost open bracket, writing its tokens back into the
/// enclosing sequence (upsampler, bypass). Positions inside bracket k count the tokens that
/// bracket has kept, so every bracket — nested or a sibling — has a counter of its own.
public struct SubllmStructure: Sendable, Equatable {
    public enum Op: Sendable, Equatable {
        /// Decoder block `layer`, run inside `bracket` (nil: on every token).
        case block(layer: Int, bracket: Int?)
        /// Bracket `index` opens; `close` is the index of its `)` in ``ops`` (where a bracket
        /// that keeps no token jumps to).
        case open(index: Int, depth: Int, close: Int)
        /// Bracket `index` closes.
        case close(index: Int, depth: Int)
    }

    public let ops: [Op]
    /// Number of brackets (subsamplers = upsamplers).
    public let bracketCount: Int
    /// Deepest nesting (0 for LLaMA).
    public let maxDepth: Int
    /// For each block, the bracket it runs in (nil: every token).
    public let blockBracket: [Int?]
    /// For each bracket, its depth (1 = outermost) and the bracket enclosing it.
    public let bracketDepth: [Int]
    public let bracketParent: [Int?]
    /// For each bracket, the ordinal of its `)` among all `)`s: the reference numbers its
    /// bypass modules that way (a nested bracket closes, and so is numbered, first).
    public let closeOrdinal: [Int]

    /// Longest structure accepted (a 1,024-layer model with as many brackets).
    public static let maxLength = 4096

    /// Parses `s`. Throws a description of the first problem: a character other than `T`, `(`,
    /// `)`, brackets that do not balance, or a number of `T`s other than `layers`.
    public init(_ s: String, layers: Int) throws(SubllmStructureError) {
        guard s.utf8.count <= Self.maxLength else { throw .tooLong(s.utf8.count) }
        var ops: [Op] = []
        var open: [(index: Int, op: Int)] = []
        var blockBracket: [Int?] = []
        var depths: [Int] = [], parents: [Int?] = [], closes: [Int] = []
        var maxDepth = 0
        for (i, ch) in s.enumerated() {
            switch ch {
            case "T":
                blockBracket.append(open.last?.index)
                ops.append(.block(layer: blockBracket.count - 1, bracket: open.last?.index))
            case "(":
                let k = depths.count
                parents.append(open.last?.index)
                closes.append(-1)
                open.append((k, ops.count))
                depths.append(open.count)
                maxDepth = max(maxDepth, open.count)
                ops.append(.open(index: k, depth: open.count, close: -1))
            case ")":
                guard let (k, at) = open.popLast() else { throw .unbalanced(at: i) }
                closes[k] = closes.filter { $0 >= 0 }.count
                ops[at] = .open(index: k, depth: open.count + 1, close: ops.count)
                ops.append(.close(index: k, depth: open.count + 1))
            default:
                throw .badCharacter(ch, at: i)
            }
        }
        guard open.isEmpty else { throw .unclosed(count: open.count) }
        guard blockBracket.count == layers else { throw .layerCount(blocks: blockBracket.count, layers: layers) }
        self.ops = ops
        self.bracketCount = depths.count
        self.maxDepth = maxDepth
        self.blockBracket = blockBracket
        self.bracketDepth = depths
        self.bracketParent = parents
        self.closeOrdinal = closes
    }

    /// `layers` blocks and no bracket: plain LLaMA.
    public init(plain layers: Int) {
        ops = (0..<layers).map { .block(layer: $0, bracket: nil) }
        bracketCount = 0
        maxDepth = 0
        blockBracket = Array(repeating: nil, count: layers)
        bracketDepth = []
        bracketParent = []
        closeOrdinal = []
    }
}

public enum SubllmStructureError: Error, CustomStringConvertible, Equatable {
    case tooLong(Int)
    case badCharacter(Character, at: Int)
    case unbalanced(at: Int)
    case unclosed(count: Int)
    case layerCount(blocks: Int, layers: Int)

    public var description: String {
        switch self {
        case let .tooLong(n): return "at most \(SubllmStructure.maxLength) characters, found \(n)"
        case let .badCharacter(c, i): return "only 'T', '(' and ')', found '\(c)' at character \(i)"
        case let .unbalanced(i): return "a ')' at character \(i) closes no bracket"
        case let .unclosed(n): return "\(n) bracket(s) never closed"
        case let .layerCount(b, l): return "\(b) 'T' blocks for \(l) layers"
        }
    }
}
