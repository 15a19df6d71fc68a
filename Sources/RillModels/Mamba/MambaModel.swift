import RillFormat
import RillKernels

/// A Mamba-1 language model (`MambaForCausalLM`) over a mapped `.rill` file.
///
/// Per layer `x = x + Mixer(RMSNorm(x))`; then `norm_f` and the LM head (tied to the
/// embedding unless the file has `lm_head.weight`).
public final class MambaModel: RecurrentModel, @unchecked Sendable {
    public let config: ModelConfig
    let c: MambaConfig
    /// (V, d)
    let embedding: TensorView
    /// (V, d): the embedding itself when tied.
    let head: TensorView
    let norms: [FloatTensor]
    let mixers: [MambaMixerWeights]
    let normF: FloatTensor
    /// Keeps the mapping alive as long as the views into it.
    let file: RillFile

    public init(file: RillFile, config c: MambaConfig) throws(RillFileError) {
        self.file = file
        self.c = c
        config = .mamba(c)
        let d = c.hiddenSize
        embedding = try file.tensor("backbone.embeddings.weight", shape: [c.vocabSize, d])
        head = c.tieWordEmbeddings ? embedding : try file.tensor("lm_head.weight", shape: [c.vocabSize, d])
        var norms: [FloatTensor] = []
        var mixers: [MambaMixerWeights] = []
        for i in 0..<c.numLayers {
            let p = "backbone.layers.\(i)."
            norms.append(try FloatTensor.load(file, p + "norm.weight", shape: [d]))
            mixers.append(try MambaMixerWeights(
                file: file, prefix: p + "mixer.", d: d, e: c.intermediateSize, n: c.stateSize,
                r: c.timeStepRank, k: c.convKernel, convBias: c.useConvBias, bias: c.useBias))
        }
        self.norms = norms
        self.mixers = mixers
        normF = try FloatTensor.load(file, "backbone.norm_f.weight", shape: [d])
    }

    public var vocabSize: Int { c.vocabSize }

    public var weightBytesPerToken: Int {
        weightBytesReadPerToken(file, untiedEmbedding: c.tieWordEmbeddings ? nil : "backbone.embeddings.weight")
    }

    public func makeContext(chunk: Int, threads: Int, kvCache: KVCacheType, context: Int?) -> ModelContext {
        MambaContext(model: self, chunk: chunk, threads: threads)
    }

    public var defaultKVCache: KVCacheType { .f32 }
}

/// One sequence on a ``MambaModel``: per layer conv window + SSM state, and fixed scratch.
final class MambaContext: ChunkedContext {
    let model: MambaModel
    let chunk: Int
    let states: [MambaMixerState]
    let scratch: MambaMixerScratch
    /// (T, d) residual stream, normalised input, mixer output.
    let x: Buffer, xn: Buffer, mix: Buffer
    /// (T, V) logits of a chunk.
    let logits: Buffer
    private(set) var position = 0
    let stepToken = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    deinit { stepToken.deallocate() }

    init(model: MambaModel, chunk: Int, threads: Int) {
        self.model = model
        self.chunk = max(1, chunk)
        let c = model.c
        states = model.mixers.map { MambaMixerState($0) }
        scratch = MambaMixerScratch(model.mixers[0], chunk: self.chunk, workspace: Workspace(maxCols: max(c.hiddenSize, c.intermediateSize), threads: threads))
        x = Buffer(self.chunk * c.hiddenSize)
        xn = Buffer(self.chunk * c.hiddenSize)
        mix = Buffer(self.chunk * c.hiddenSize)
        logits = Buffer(min(self.chunk, logitRows) * c.vocabSize)
    }

    var stateBytes: Int { states.reduce(0) { $0 + $1.bytes } }

    var stateBytesReadPerStep: Int { stateBytes }

    func reset() {
        for s in states { s.reset() }
        position = 0
    }

    func setPosition(_ p: Int) { position = p }

    func stateBuffers() -> [StateBuffer] {
        states.flatMap { [.f32($0.conv.buffer), .f32($0.ssm.buffer)] }
    }

    var head: TensorView { model.head }
    var headWorkspace: Workspace { scratch.ws }
    var vocabSize: Int { model.c.vocabSize }

    /// Runs the layers over the tokens; leaves the final-normed hidden states in `xn`.
    func forward(_ tokens: UnsafeBufferPointer<Int32>, pool: ThreadPool) {
        let c = model.c, d = c.hiddenSize, t = tokens.count
        for i in 0..<t {
            let id = Int(tokens[i])
            precondition(id >= 0 && id < c.vocabSize, "token id \(id) outside the vocabulary (checked by the session)")
            model.embedding.dequantizeRow(id, into: UnsafeMutableBufferPointer(start: x.pointer + i * d, count: d))
        }
        for l in 0..<c.numLayers {
            for i in 0..<t {
                rmsNorm(x.pointer + i * d, weight: model.norms[l].pointer, eps: c.layerNormEpsilon, xn.pointer + i * d, count: d)
            }
            mambaMixer(model.mixers[l], states[l], scratch, x: xn.pointer, out: mix.pointer, t: t, pool: pool)
            addInPlace(x.pointer, mix.pointer, count: t * d)
        }
        for i in 0..<t {
            rmsNorm(x.pointer + i * d, weight: model.normF.pointer, eps: c.layerNormEpsilon, xn.pointer + i * d, count: d)
        }
        position += t
    }
}
