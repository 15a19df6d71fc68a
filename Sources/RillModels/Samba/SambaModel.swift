import Foundation
import RillFormat
import RillKernels

/// A SAMBA model (flash-linear-attention `SambaForCausalLM`, `DESIGN.md` §3.3): each layer is
/// `x += Mixer(RMSNorm(x)); x += MLP(RMSNorm(x))`, the mixer a Mamba-1 mixer or, for the layers
/// in `attentionLayers`, sliding-window softmax attention with RoPE; the MLP is SwiGLU
/// `down(SiLU(gate(x)) ⊙ up(x))`. Final `norm_f`, LM head.
public final class SambaModel: RecurrentModel, @unchecked Sendable {
    public let config: ModelConfig
    let c: SambaConfig
    struct Attention {
        /// (H·D, d), (Hkv·D, d), (Hkv·D, d), (d, H·D)
        let q: TensorView, k: TensorView, v: TensorView, o: TensorView
        let qBias: FloatTensor?, kBias: FloatTensor?, vBias: FloatTensor?
    }
    enum Mixer {
        case mamba(MambaMixerWeights)
        case attention(Attention)
    }
    struct Layer {
        let mixerNorm: FloatTensor
        let mixer: Mixer
        let mlpNorm: FloatTensor
        /// (m, d), (m, d), (d, m)
        let gate: TensorView, up: TensorView, down: TensorView
    }
    let layers: [Layer]
    let embedding: TensorView
    let head: TensorView
    let normF: FloatTensor
    /// RoPE inverse frequencies (D/2), float32 as the reference computes them.
    let invFreq: [Float]
    let file: RillFile

    public init(file: RillFile, config c: SambaConfig) throws(RillFileError) {
        self.file = file
        self.c = c
        config = .samba(c)
        let d = c.hiddenSize, qd = c.numHeads * c.headDim, kvd = c.numKVHeads * c.headDim, m = c.intermediateSize
        embedding = try file.tensor("backbone.embeddings.weight", shape: [c.vocabSize, d])
        head = c.tieWordEmbeddings ? embedding : try file.tensor("lm_head.weight", shape: [c.vocabSize, d])
        normF = try FloatTensor.load(file, "backbone.norm_f.weight", shape: [d])
        var layers: [Layer] = []
        for i in 0..<c.numLayers {
            let p = "backbone.layers.\(i)."
            let mixer: Mixer
            if c.isAttention(layer: i) {
                mixer = .attention(Attention(
                    q: try file.tensor(p + "mixer.q_proj.weight", shape: [qd, d]),
                    k: try file.tensor(p + "mixer.k_proj.weight", shape: [kvd, d]),
                    v: try file.tensor(p + "mixer.v_proj.weight", shape: [kvd, d]),
                    o: try file.tensor(p + "mixer.o_proj.weight", shape: [d, qd]),
                    qBias: c.qkvBias ? try FloatTensor.load(file, p + "mixer.q_proj.bias", shape: [qd]) : nil,
                    kBias: c.qkvBias ? try FloatTensor.load(file, p + "mixer.k_proj.bias", shape: [kvd]) : nil,
                    vBias: c.qkvBias ? try FloatTensor.load(file, p + "mixer.v_proj.bias", shape: [kvd]) : nil))
            } else {
                mixer = .mamba(try MambaMixerWeights(
                    file: file, prefix: p + "mixer.", d: d, e: c.mambaInnerSize, n: c.stateSize, r: c.timeStepRank,
                    k: c.convKernel, convBias: c.useConvBias, bias: c.useBias))
            }
            layers.append(Layer(
                mixerNorm: try FloatTensor.load(file, p + "mixer_norm.weight", shape: [d]), mixer: mixer,
                mlpNorm: try FloatTensor.load(file, p + "mlp_norm.weight", shape: [d]),
                gate: try file.tensor(p + "mlp.gate_proj.weight", shape: [m, d]),
                up: try file.tensor(p + "mlp.up_proj.weight", shape: [m, d]),
                down: try file.tensor(p + "mlp.down_proj.weight", shape: [d, m])))
        }
        self.layers = layers
        let dim = c.headDim
        invFreq = (0..<(dim / 2)).map { i in 1 / powf(c.ropeTheta, Float(2 * i) / Float(dim)) }
    }

    public var vocabSize: Int { c.vocabSize }

    public var weightBytesPerToken: Int {
        weightBytesReadPerToken(file, untiedEmbedding: c.tieWordEmbeddings ? nil : "backbone.embeddings.weight")
    }

    public func makeContext(chunk: Int, threads: Int, kvCache: KVCacheType, context: Int?) -> ModelContext {
        SambaContext(model: self, chunk: chunk, threads: threads, kvCache: kvCache)
    }

    /// f16 when the attention's key projection is block-quantised (int8/int4): such a file's
    /// logits already carry weight rounding far above f16's (``KVCacheType``); f32 otherwise,
    /// so an f32 file stays exact against the reference.
    public var defaultKVCache: KVCacheType {
        for l in layers {
            if case let .attention(a) = l.mixer { return a.k.type.isBlockQuantised ? .f16 : .f32 }
        }
        return .f32
    }
}

/// One sequence on a ``SambaModel``: Mamba states and K/V rings (fixed size), scratch.
final class SambaContext: ChunkedContext {
    let model: SambaModel
    let chunk: Int
    let mambaStates: [MambaMixerState?]
    let rings: [KVRing?]
    let mambaScratch: MambaMixerScratch?
    let x: Buffer, xn: Buffer, out: Buffer
    /// (T, H·D), (T, Hkv·D) ×2, (T, H·D) attention output
    let q: Buffer, k: Buffer, v: Buffer, attn: Buffer
    let scores: Buffer
    /// (T, m) ×2
    let g: Buffer, u: Buffer
    let ws: Workspace
    let logits: Buffer
    private(set) var position = 0
    let stepToken = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    init(model: SambaModel, chunk: Int, threads: Int, kvCache: KVCacheType) {
        self.model = model
        self.chunk = max(1, chunk)
        let c = model.c, t = self.chunk, d = c.hiddenSize
        var ms: [MambaMixerState?] = []
        var rs: [KVRing?] = []
        var firstMamba: MambaMixerWeights?
        for l in model.layers {
            switch l.mixer {
            case let .mamba(w):
                ms.append(MambaMixerState(w))
                rs.append(nil)
                if firstMamba == nil { firstMamba = w }
            case .attention:
                ms.append(nil)
                rs.append(KVRing(window: c.windowSize, kvDim: c.numKVHeads * c.headDim, type: kvCache))
            }
        }
        mambaStates = ms
        rings = rs
        let ws = Workspace(maxCols: max(d, c.mambaInnerSize, c.intermediateSize, c.numHeads * c.headDim), threads: threads)
        self.ws = ws
        mambaScratch = firstMamba.map { MambaMixerScratch($0, chunk: t, workspace: ws) }
        x = Buffer(t * d)
        xn = Buffer(t * d)
        out = Buffer(t * d)
        q = Buffer(t * c.numHeads * c.headDim)
        k = Buffer(t * c.numKVHeads * c.headDim)
        v = Buffer(t * c.numKVHeads * c.headDim)
        attn = Buffer(t * c.numHeads * c.headDim)
        scores = Buffer(c.numHeads * c.windowSize)
        g = Buffer(t * c.intermediateSize)
        u = Buffer(t * c.intermediateSize)
        logits = Buffer(min(t, logitRows) * c.vocabSize)
    }

    deinit { stepToken.deallocate() }

    var stateBytes: Int { stateBytes(ringSlots: model.c.windowSize) }

    /// The rings' valid slots only: before the window fills, a step attends to `position` keys.
    var stateBytesReadPerStep: Int { stateBytes(ringSlots: min(position + 1, model.c.windowSize)) }

    private func stateBytes(ringSlots: Int) -> Int {
        mambaStates.reduce(0) { $0 + ($1?.bytes ?? 0) } + rings.reduce(0) { $0 + ($1?.bytes(slots: ringSlots) ?? 0) }
    }

    func reset() {
        for s in mambaStates { s?.reset() }
        for r in rings { r?.reset() }
        position = 0
    }

    func setPosition(_ p: Int) { position = p }

    func stateBuffers() -> [StateBuffer] {
        var out: [StateBuffer] = []
        for (s, r) in zip(mambaStates, rings) {
            if let s { out += [.f32(s.conv.buffer), .f32(s.ssm.buffer)] }
            if let r { out += r.stateBuffers }
        }
        return out
    }

    var head: TensorView { model.head }
    var headWorkspace: Workspace { ws }
    var vocabSize: Int { model.c.vocabSize }

    func forward(_ tokens: UnsafeBufferPointer<Int32>, pool: ThreadPool) {
        let m = model, c = m.c, d = c.hiddenSize, t = tokens.count
        for i in 0..<t {
            m.embedding.dequantizeRow(Int(tokens[i]), into: UnsafeMutableBufferPointer(start: x.pointer + i * d, count: d))
        }
        for (l, layer) in m.layers.enumerated() {
            for i in 0..<t { rmsNorm(x.pointer + i * d, weight: layer.mixerNorm.pointer, eps: c.normEpsilon, xn.pointer + i * d, count: d) }
            switch layer.mixer {
            case let .mamba(w):
                mambaMixer(w, mambaStates[l]!, mambaScratch!, x: xn.pointer, out: out.pointer, t: t, pool: pool)
            case let .attention(a):
                attention(a, ring: rings[l]!, t: t, pool: pool)
            }
            addInPlace(x.pointer, out.pointer, count: t * d)
            for i in 0..<t { rmsNorm(x.pointer + i * d, weight: layer.mlpNorm.pointer, eps: c.normEpsilon, xn.pointer + i * d, count: d) }
            project(layer.gate, xn.pointer, g.pointer, t: t, bias: nil, ws: ws, pool: pool)
            project(layer.up, xn.pointer, u.pointer, t: t, bias: nil, ws: ws, pool: pool)
            silu(g.pointer, count: t * c.intermediateSize)
            mulInPlace(u.pointer, g.pointer, count: t * c.intermediateSize)
            project(layer.down, u.pointer, out.pointer, t: t, bias: nil, ws: ws, pool: pool)
            addInPlace(x.pointer, out.pointer, count: t * d)
        }
        for i in 0..<t { rmsNorm(x.pointer + i * d, weight: m.normF.pointer, eps: c.normEpsilon, xn.pointer + i * d, count: d) }
        position += t
    }

    /// Projections for the chunk as GEMMs; then, token by token, RoPE, write K/V into the
    /// ring and attend over the window — so a chunk attends across its boundary into the
    /// ring exactly as decode does.
    private func attention(_ a: SambaModel.Attention, ring: KVRing, t: Int, pool: ThreadPool) {
        let c = model.c, dim = c.headDim, qd = c.numHeads * dim, kvd = c.numKVHeads * dim
        project(a.q, xn.pointer, q.pointer, t: t, bias: a.qBias, ws: ws, pool: pool)
        project(a.k, xn.pointer, k.pointer, t: t, bias: a.kBias, ws: ws, pool: pool)
        project(a.v, xn.pointer, v.pointer, t: t, bias: a.vBias, ws: ws, pool: pool)
        model.invFreq.withUnsafeBufferPointer { inv in
            for i in 0..<t {
                let p = position + i
                let qi = q.pointer + i * qd, ki = k.pointer + i * kvd
                applyRoPE(qi, headDim: dim, heads: c.numHeads, position: p, invFreq: inv.baseAddress!)
                applyRoPE(ki, headDim: dim, heads: c.numKVHeads, position: p, invFreq: inv.baseAddress!)
                ring.write(slot: p % ring.window, key: ki, value: v.pointer + i * kvd)
                // Heads split over the pool: one position's attention over a window of 2,048
                // keys is 4 M multiply-adds for SAMBA-400M's 16 heads, per attention layer.
                pool.parallelRows(total: c.numHeads, alignment: 1, WindowAttentionTask(
                    q: qi, ring: ring, position: p, heads: c.numHeads, kvHeads: c.numKVHeads, headDim: dim,
                    out: attn.pointer + i * qd, scores: scores.pointer))
            }
        }
        project(a.o, attn.pointer, out.pointer, t: t, bias: nil, ws: ws, pool: pool)
    }
}

/// ``windowAttention(q:ring:position:heads:kvHeads:headDim:out:scores:headRange:)`` for a range
/// of query heads; `scores` holds W floats per head, so ranges never share them.
struct WindowAttentionTask: ParallelRowsTask {
    let q: UnsafePointer<Float>
    let ring: KVRing
    let position: Int, heads: Int, kvHeads: Int, headDim: Int
    let out: UnsafeMutablePointer<Float>
    let scores: UnsafeMutablePointer<Float>

    func run(rows range: Range<Int>) {
        windowAttention(
            q: q, ring: ring, position: position, heads: heads, kvHeads: kvHeads, headDim: headDim, out: out,
            scores: scores + range.lowerBound * ring.window, headRange: range)
    }
}
