/// Hyper-parameters of a TransNormerLLM model (`TransnormerForCausalLM`), as stored in a
/// `.rill` file. The per-head, per-layer decay rates are not here: the converter stores them
/// as tensors (`model.layers.{i}.token_mixer.decay`), so the runtime does no setup.
public struct TransNormerConfig: Codable, Sendable, Equatable {
    /// Model width d (`decoder_embed_dim`).
    public var embedDim: Int
    /// Token-mixer width (`hidden_dim`), split into `numHeads` heads.
    public var hiddenDim: Int
    public var numLayers: Int
    public var numHeads: Int
    /// Channel-mixer inner width (`glu_dim`).
    public var gluDim: Int
    public var vocabSize: Int
    /// LRPE on the queries/keys of layer i (`linear_use_lrpe_list`).
    public var lrpeLayers: [Bool]
    /// Embedding multiplied by sqrt(embedDim) unless true.
    public var noScaleEmbedding: Bool
    /// Epsilon of SimpleRMSNorm.
    public var normEpsilon: Float
    public var tieWordEmbeddings: Bool

    public init(
        embedDim: Int, hiddenDim: Int, numLayers: Int, numHeads: Int, gluDim: Int, vocabSize: Int,
        lrpeLayers: [Bool], noScaleEmbedding: Bool, normEpsilon: Float, tieWordEmbeddings: Bool
    ) {
        self.embedDim = embedDim
        self.hiddenDim = hiddenDim
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.gluDim = gluDim
        self.vocabSize = vocabSize
        self.lrpeLayers = lrpeLayers
        self.noScaleEmbedding = noScaleEmbedding
        self.normEpsilon = normEpsilon
        self.tieWordEmbeddings = tieWordEmbeddings
    }

    public var headDim: Int { hiddenDim / numHeads }

    enum CodingKeys: String, CodingKey {
        case embedDim = "embed_dim", hiddenDim = "hidden_dim", numLayers = "num_layers"
        case numHeads = "num_heads", gluDim = "glu_dim", vocabSize = "vocab_size"
        case lrpeLayers = "lrpe_layers", noScaleEmbedding = "no_scale_embedding"
        case normEpsilon = "norm_epsilon", tieWordEmbeddings = "tie_word_embeddings"
    }
}
