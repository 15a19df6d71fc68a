import RillFormat
import RillKernels

/// A SUBLLM model (XiaoMi, `DESIGN.md` §3.4), and plain LLaMA as its bracket-free case.
///
/// Blocks are pre-norm decoder blocks, `x += O·Attn(RoPE(Q·n), RoPE(K·n), V·n)` with
/// `n = RMSNorm(x)`, then `x += W3·(SiLU(gate) ⊙ up)` with `[gate, up] = W12·RMSNorm(x)`.
/// A bracket `( … )` of the structure scores each of its tokens (`score = s·x`), runs its
/// blocks on those with `score > 0` only, at their positions among the tokens the bracket
/// kept, and writes them back as `outer + (w·inner + (1−w)·outer − outer) ⊙ b` with
/// `w = clamp(score, 0, 1)` and the bypass scale `b`; dropped tokens pass unchanged.
public final class SubllmModel: RecurrentModel, @unchecked Sendable {
    public let config: ModelConfig
    let c: SubllmConfig
    let program: SubllmStructure
    struct Block {
        let attnNorm: FloatTensor
        /// ((H + 2·Hkv)·D, d): query, key and value rows stacked; bias likewise.
        let qkv: TensorView
        let qkvBias: FloatTensor?
        /// (d, H·D)
        let o: TensorView
        let oBias: FloatTensor?
        let ffnNorm: FloatTensor
        /// (2F, d): gate rows, then up rows
        let w12: TensorView
        /// (d, F)
        let w3: TensorView
    }
    let blocks: [Block]
    /// Per bracket: the scorer s (d) and the bypass scale b (d).
    let scorers: [FloatTensor]
    let bypasses: [FloatTensor]
    let embedding: TensorView
    let head: TensorView
    let norm: FloatTensor
    /// RoPE inverse frequencies (D/2), scaling applied, as the converter computed them.
    let invFreq: FloatTensor
    let file: RillFile

    public init(file: RillFile, config c: SubllmConfig) throws(RillFileError) {
        self.file = file
        self.c = c
        config = .subllm(c)
        do {
            program = try SubllmStructure(c.structure, layers: c.numLayers)
        } catch {
            throw .invalidField(path: file.path, field: "config.structure", expected: "a structure of T, ( and )", found: "\(error)")
        }
        let d = c.hiddenSize, qd = c.numHeads * c.headDim, kvd = c.numKVHeads * c.headDim, f = c.intermediateSize
        embedding = try file.tensor("embedding.weight", shape: [c.vocabSize, d])
        head = c.tieWordEmbeddings ? embedding : try file.tensor("head.weight", shape: [c.vocabSize, d])
        norm = try FloatTensor.load(file, "norm.weight", shape: [d])
        invFreq = try FloatTensor.load(file, "rope.inv_freq", shape: [c.headDim / 2])
        var blocks: [Block] = []
        for i in 0..<c.numLayers {
            let p = "layers.\(i)."
            blocks.append(Block(
                attnNorm: try FloatTensor.load(file, p + "attn_norm.weight", shape: [d]),
                qkv: try file.tensor(p + "attn.qkv.weight", shape: [qd + 2 * kvd, d]),
                qkvBias: c.qkBias || c.voBias ? try FloatTensor.load(file, p + "attn.qkv.bias", shape: [qd + 2 * kvd]) : nil,
                o: try file.tensor(p + "attn.o.weight", shape: [d, qd]),
                oBias: c.voBias ? try FloatTensor.load(file, p + "attn.o.bias", shape: [d]) : nil,
                ffnNorm: try FloatTensor.load(file, p + "ffn_norm.weight", shape: [d]),
                w12: try file.tensor(p + "ffn.w12.weight", shape: [2 * f, d]),
                w3: try file.tensor(p + "ffn.w3.weight", shape: [d, f])))
        }
        self.blocks = blocks
        var scorers: [FloatTensor] = [], bypasses: [FloatTensor] = []
        for k in 0..<program.bracketCount {
            scorers.append(try FloatTensor.load(file, "subsamplers.\(k).score.weight", shape: [d]))
            bypasses.append(try FloatTensor.load(file, "bypasses.\(k).scale", shape: [d]))
        }
        self.scorers = scorers
        self.bypasses = bypasses
    }

    public var vocabSize: Int { c.vocabSize }

    public var weightBytesPerToken: Int {
        weightBytesReadPerToken(file, untiedEmbedding: c.tieWordEmbeddings ? nil : "embedding.weight")
    }

    /// The context a session reserves keys and values for unless told otherwise: the
    /// positions the model was trained for.
    public var defaultContext: Int? { c.maxPositions }

    public func makeContext(chunk: Int, threads: Int, kvCache: KVCacheType, context: Int?) -> ModelContext {
        SubllmContext(model: self, chunk: chunk, threads: threads, kvCache: kvCache, capacity: context ?? c.maxPositions)
    }

    /// f16 for block-quantised files, f32 otherwise, as SAMBA's rings (``KVCacheType``).
    public var defaultKVCache: KVCacheType { blocks.first?.qkv.type.isBlockQuantised == true ? .f16 : .f32 }

    /// Bytes of keys and values one position adds to one attention layer.
    public func kvBytesPerPosition(_ type: KVCacheType) -> Int { 2 * c.numKVHeads * c.headDim * type.elementBytes }

    /// For the top level (nil) and each bracket: the attention layers whose caches a token
    /// that reaches that level writes to — a token dropped at a bracket writes to none of the
    /// layers inside it.
    public var layersPerLevel: [(bracket: Int?, layers: Int)] {
        var out: [(Int?, Int)] = [(nil, program.blockBracket.filter { $0 == nil }.count)]
        for k in 0..<program.bracketCount { out.append((k, program.blockBracket.filter { $0 == k }.count)) }
        return out
    }
}
