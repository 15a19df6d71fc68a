import Foundation
import RillFormat
import RillKernels

/// A TransNormerLLM (`TransnormerForCausalLM`) over a mapped `.rill` file (`DESIGN.md` §3.2).
///
/// Layer: `x += out_proj(u ⊙ SRMSNorm(LinearAttention(act(q), act(k), v)))`, then
/// `x += l3(l1(SRMSNorm(x)) ⊙ l2(SRMSNorm(x)))`; final SRMSNorm; LM head.
public final class TransNormerModel: RecurrentModel, @unchecked Sendable {
    public let config: ModelConfig
    let c: TransNormerConfig
    struct Layer {
        /// (4h, d): q, k, v, u.
        let qkvu: TensorView
        /// (d, h)
        let outProj: TensorView
        /// (g, d), (g, d), (d, g)
        let l1: TensorView, l2: TensorView, l3: TensorView
        /// (H, hd) learned LRPE angles, nil when the layer has no LRPE.
        let theta: FloatTensor?
        /// (H) decay rates s (λ = exp(−s)), per-layer scaling applied by the converter.
        let slope: FloatTensor
    }
    let layers: [Layer]
    /// (V, d)
    let embedding: TensorView
    let head: TensorView
    let embedScale: Float
    let file: RillFile

    public init(file: RillFile, config c: TransNormerConfig) throws(RillFileError) {
        self.file = file
        self.c = c
        config = .transnormer(c)
        let d = c.embedDim, h = c.hiddenDim, g = c.gluDim, heads = c.numHeads
        embedding = try file.tensor("model.embed_tokens.weight", shape: [c.vocabSize, d])
        head = c.tieWordEmbeddings ? embedding : try file.tensor("lm_head.weight", shape: [c.vocabSize, d])
        var layers: [Layer] = []
        for i in 0..<c.numLayers {
            let p = "model.layers.\(i)."
            let slope = try FloatTensor.load(file, p + "token_mixer.slope", shape: [heads])
            for j in 0..<heads where !(slope.pointer[j] >= 0) {
                throw .invalidField(path: file.path, field: "tensor '\(p)token_mixer.slope'[\(j)]", expected: "a decay rate ≥ 0", found: "\(slope.pointer[j])")
            }
            layers.append(Layer(
                qkvu: try file.tensor(p + "token_mixer.qkvu_proj.weight", shape: [4 * h, d]),
                outProj: try file.tensor(p + "token_mixer.out_proj.weight", shape: [d, h]),
                l1: try file.tensor(p + "channel_mixer.l1.weight", shape: [g, d]),
                l2: try file.tensor(p + "channel_mixer.l2.weight", shape: [g, d]),
                l3: try file.tensor(p + "channel_mixer.l3.weight", shape: [d, g]),
                theta: c.lrpeLayers[i] ? try FloatTensor.load(file, p + "token_mixer.lrpe.theta", shape: [heads, h / heads]) : nil,
                slope: slope))
        }
        self.layers = layers
        embedScale = c.noScaleEmbedding ? 1 : Float(Double(d).squareRoot())
    }

    public var vocabSize: Int { c.vocabSize }

    public var weightBytesPerToken: Int {
        weightBytesReadPerToken(file, untiedEmbedding: c.tieWordEmbeddings ? nil : "model.embed_tokens.weight")
    }

    public func makeContext(chunk: Int, threads: Int, kvCache: KVCacheType, context: Int?) -> ModelContext {
        TransNormerContext(model: self, chunk: chunk, threads: threads)
    }

    public var defaultKVCache: KVCacheType { .f32 }
}
