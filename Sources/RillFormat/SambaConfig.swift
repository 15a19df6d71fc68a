/// Hyper-parameters of a SAMBA model (flash-linear-attention `SambaForCausalLM`), as stored in
/// a `.rill` file: Mamba mixers and sliding-window attention layers, each followed by a
/// SwiGLU MLP.
public struct SambaConfig: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var numLayers: Int
    public var vocabSize: Int
    /// Mamba mixer parameters (used by the layers not in `attentionLayers`).
    public var stateSize: Int
    public var convKernel: Int
    public var mambaInnerSize: Int
    public var timeStepRank: Int
    public var useConvBias: Bool
    public var useBias: Bool
    /// Indices of the layers whose mixer is sliding-window attention.
    public var attentionLayers: [Int]
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    /// Sliding window W: a query at position i sees keys i−W+1 … i.
    public var windowSize: Int
    public var ropeTheta: Float
    public var qkvBias: Bool
    /// MLP inner width.
    public var intermediateSize: Int
    public var normEpsilon: Float
    public var tieWordEmbeddings: Bool

    public init(
        hiddenSize: Int, numLayers: Int, vocabSize: Int, stateSize: Int, convKernel: Int,
        mambaInnerSize: Int, timeStepRank: Int, useConvBias: Bool, useBias: Bool,
        attentionLayers: [Int], numHeads: Int, numKVHeads: Int, headDim: Int, windowSize: Int,
        ropeTheta: Float, qkvBias: Bool, intermediateSize: Int, normEpsilon: Float, tieWordEmbeddings: Bool
    ) {
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.vocabSize = vocabSize
        self.stateSize = stateSize
        self.convKernel = convKernel
        self.mambaInnerSize = mambaInnerSize
        self.timeStepRank = timeStepRank
        self.useConvBias = useConvBias
        self.useBias = useBias
        self.attentionLayers = attentionLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim
        self.windowSize = windowSize
        self.ropeTheta = ropeTheta
        self.qkvBias = qkvBias
        self.intermediateSize = intermediateSize
        self.normEpsilon = normEpsilon
        self.tieWordEmbeddings = tieWordEmbeddings
    }

    public func isAttention(layer: Int) -> Bool { attentionLayers.contains(layer) }

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", numLayers = "num_layers", vocabSize = "vocab_size"
        case stateSize = "state_size", convKernel = "conv_kernel", mambaInnerSize = "mamba_inner_size"
        case timeStepRank = "time_step_rank", useConvBias = "use_conv_bias", useBias = "use_bias"
        case attentionLayers = "attention_layers", numHeads = "num_heads", numKVHeads = "num_kv_heads"
        case headDim = "head_dim", windowSize = "window_size", ropeTheta = "rope_theta", qkvBias = "qkv_bias"
        case intermediateSize = "intermediate_size", normEpsilon = "norm_epsilon"
        case tieWordEmbeddings = "tie_word_embeddings"
    }
}
