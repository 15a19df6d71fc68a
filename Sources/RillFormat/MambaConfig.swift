/// Hyper-parameters of a Mamba-1 model (`MambaForCausalLM`), as stored in a `.rill` file.
public struct MambaConfig: Codable, Sendable, Equatable {
    /// Model width d.
    public var hiddenSize: Int
    /// Number of residual Mamba blocks L.
    public var numLayers: Int
    public var vocabSize: Int
    /// SSM state size N per channel.
    public var stateSize: Int
    /// Depthwise causal convolution length K.
    public var convKernel: Int
    /// Inner width d_inner (= expand · d in the released models).
    public var intermediateSize: Int
    /// Rank R of the Δ projection (`x_proj` rows 0..<R).
    public var timeStepRank: Int
    /// RMSNorm epsilon of the block norms and `norm_f`.
    public var layerNormEpsilon: Float
    public var useConvBias: Bool
    /// Bias on `in_proj`/`out_proj`.
    public var useBias: Bool
    /// LM head shares the embedding matrix.
    public var tieWordEmbeddings: Bool

    public init(
        hiddenSize: Int, numLayers: Int, vocabSize: Int, stateSize: Int, convKernel: Int,
        intermediateSize: Int, timeStepRank: Int, layerNormEpsilon: Float, useConvBias: Bool,
        useBias: Bool, tieWordEmbeddings: Bool
    ) {
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.vocabSize = vocabSize
        self.stateSize = stateSize
        self.convKernel = convKernel
        self.intermediateSize = intermediateSize
        self.timeStepRank = timeStepRank
        self.layerNormEpsilon = layerNormEpsilon
        self.useConvBias = useConvBias
        self.useBias = useBias
        self.tieWordEmbeddings = tieWordEmbeddings
    }

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", numLayers = "num_layers", vocabSize = "vocab_size"
        case stateSize = "state_size", convKernel = "conv_kernel", intermediateSize = "intermediate_size"
        case timeStepRank = "time_step_rank", layerNormEpsilon = "layer_norm_epsilon"
        case useConvBias = "use_conv_bias", useBias = "use_bias", tieWordEmbeddings = "tie_word_embeddings"
    }
}
