import RillFormat
import RillKernels

/// One sequence on a ``SubllmModel``: a key/value cache per block reserved for `capacity`
/// positions when the context is made, a position counter per bracket, and scratch for a
/// chunk. Nothing is allocated afterwards.
///
/// Positions. The reference's full-prompt pass rotates a token inside bracket k at its index in
/// the sequence bracket k *received*: at an outermost bracket its original position, at a
/// nested one its index among the tokens the enclosing bracket kept. Each block's cache holds
/// the tokens of its own level in order (slot = index among the tokens that level kept). With a
/// counter per bracket of the tokens it has kept, both indices are known for every token in any
/// split of the sequence into chunks or single steps, so prefill and decode here reproduce the
/// reference's full-prompt logits. (The reference's own one-token decoding uses the original
/// position at every level instead, and disagrees with its full-prompt pass wherever a nested
/// bracket is active.)
final class SubllmContext: ChunkedContext {
    let model: SubllmModel
    let chunk: Int
    let capacityPositions: Int
    var capacity: Int? { capacityPositions }
    /// One per block: keys and values of every position its level has seen.
    let caches: [KVRing]
    /// Tokens each bracket has kept so far: the next position inside it.
    private(set) var kept: [Int]
    let counters: Buffer
    private(set) var position = 0
    private(set) var lastDepth = 0
    var lastTokenDepth: Int? { model.program.bracketCount == 0 ? nil : lastDepth }

    // Scratch for up to `chunk` rows.
    let x: Buffer, xn: Buffer, out: Buffer
    /// Per nesting depth: the rows the bracket received, and the kept rows' indices into them
    /// and weights.
    let saved: [Buffer]
    let keptRows: [UnsafeMutablePointer<Int32>]
    let keptWeights: [Buffer]
    /// Per depth: the rows and the first sequence index of the level a bracket was opened
    /// from, and the RoPE positions of the rows it kept (their indices in that level).
    let rowCounts: UnsafeMutablePointer<Int>
    let outerBases: UnsafeMutablePointer<Int>
    let ropePositions: [UnsafeMutablePointer<Int32>]
    let scores: Buffer
    /// (T, (H + 2Hkv)·D) stacked q, k, v; (T, H·D) attention output; (T, 2F); (T, F).
    let qkv: Buffer, attn: Buffer, h12: Buffer, u: Buffer
    /// Per head: a tile of rows' scores against every reserved position, and their queries.
    let attnScores: Buffer
    let attnQueries: Buffer
    let ws: Workspace
    let logits: Buffer
    let stepToken = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    init(model: SubllmModel, chunk: Int, threads: Int, kvCache: KVCacheType, capacity: Int) {
        self.model = model
        self.chunk = max(1, chunk)
        let cap = max(1, capacity)
        self.capacityPositions = cap
        let c = model.c, t = self.chunk, d = c.hiddenSize
        let qd = c.numHeads * c.headDim, kvd = c.numKVHeads * c.headDim
        caches = (0..<c.numLayers).map { _ in KVRing(window: cap, kvDim: kvd, type: kvCache) }
        kept = Array(repeating: 0, count: model.program.bracketCount)
        counters = Buffer(max(1, model.program.bracketCount))
        x = Buffer(t * d)
        xn = Buffer(t * d)
        out = Buffer(t * d)
        let depth = model.program.maxDepth
        saved = (0..<depth).map { _ in Buffer(t * d) }
        keptRows = (0..<depth).map { _ in .allocate(capacity: t) }
        keptWeights = (0..<depth).map { _ in Buffer(t) }
        rowCounts = .allocate(capacity: depth + 1)
        rowCounts.initialize(repeating: 0, count: depth + 1)
        outerBases = .allocate(capacity: depth + 1)
        outerBases.initialize(repeating: 0, count: depth + 1)
        ropePositions = (0..<depth).map { _ in .allocate(capacity: t) }
        scores = Buffer(t)
        qkv = Buffer(t * (qd + 2 * kvd))
        attn = Buffer(t * qd)
        h12 = Buffer(t * 2 * c.intermediateSize)
        u = Buffer(t * c.intermediateSize)
        attnScores = Buffer(c.numHeads * min(t, attentionTileRows) * cap)
        attnQueries = Buffer(c.numHeads * min(t, attentionTileRows) * c.headDim)
        ws = Workspace(maxCols: max(d, qd, c.intermediateSize), threads: threads)
        logits = Buffer(min(t, logitRows) * c.vocabSize)
    }

    deinit {
        stepToken.deallocate()
        for p in keptRows { p.deallocate() }
        rowCounts.deallocate()
        outerBases.deallocate()
        for p in ropePositions { p.deallocate() }
    }

    var head: TensorView { model.head }
    var headWorkspace: Workspace { ws }
    var vocabSize: Int { model.c.vocabSize }

    /// All caches whole (what a state file holds).
    var stateBytes: Int { caches.reduce(0) { $0 + $1.bytes(slots: capacityPositions) } + kept.count * 4 }

    /// The keys and values a decode step reads: every position each layer has cached.
    var stateBytesReadPerStep: Int {
        zip(caches, model.program.blockBracket).reduce(0) { sum, cb in
            sum + cb.0.bytes(slots: min(capacityPositions, (cb.1.map { kept[$0] } ?? position) + 1))
        }
    }

    func reset() {
        for cache in caches { cache.reset() }
        for k in kept.indices { kept[k] = 0 }
        position = 0
    }

    func setPosition(_ p: Int) {
        position = p
        // After a state file's buffers are restored, the bracket counters come back from them.
        for k in kept.indices { kept[k] = Int(counters.pointer[k]) }
    }

    func stateBuffers() -> [StateBuffer] {
        for k in kept.indices { counters.pointer[k] = Float(kept[k]) }  // exact below 2^24
        return [.f32(counters.buffer)] + caches.flatMap(\.stateBuffers)
    }

    func forward(_ tokens: UnsafeBufferPointer<Int32>, pool: ThreadPool) {
        let m = model, c = m.c, d = c.hiddenSize, t = tokens.count
        precondition(position + t <= capacityPositions, "the session checks the context before a forward pass")
        for i in 0..<t {
            let row = UnsafeMutableBufferPointer(start: x.pointer + i * d, count: d)
            m.embedding.dequantizeRow(Int(tokens[i]), into: row)
            if c.embeddingScale != 1 { scaleInPlace(row.baseAddress!, by: c.embeddingScale, count: d) }
        }
        // The current level: its rows, the index of its first row in the level's sequence
        // (the cache slot), and its rows' RoPE positions (nil: the same as the slots).
        var rows = t
        var base = position
        var rope: UnsafePointer<Int32>?
        lastDepth = 0
        for op in m.program.ops {
            switch op {
            case let .block(layer, _):
                if rows > 0 { block(layer, rows: rows, slotBase: base, ropePositions: rope, pool: pool) }
            case let .open(k, depth, _):
                rowCounts[depth - 1] = rows
                outerBases[depth - 1] = base
                rows = subsample(k, depth: depth, rows: rows)
                let idx = keptRows[depth - 1], pos = ropePositions[depth - 1]
                for j in 0..<rows { pos[j] = Int32(base) + idx[j] }
                rope = UnsafePointer(pos)
                base = kept[k]
                // The last row of the chunk is the last token: it went in if it was kept.
                if rows > 0, Int(idx[rows - 1]) == rowCounts[depth - 1] - 1, depth - 1 == lastDepth { lastDepth = depth }
            case let .close(k, depth):
                upsample(k, depth: depth, innerRows: rows)
                kept[k] += rows
                rows = rowCounts[depth - 1]
                base = outerBases[depth - 1]
                rope = depth >= 2 ? UnsafePointer(ropePositions[depth - 2]) : nil
            }
        }
        for i in 0..<t { rmsNorm(x.pointer + i * d, weight: m.norm.pointer, eps: c.normEpsilon, xn.pointer + i * d, count: d) }
        position += t
    }

    /// Scores the `rows` current rows with bracket k's scorer, saves them, and keeps in `x`
    /// (in order) those with a positive score; returns how many.
    private func subsample(_ k: Int, depth: Int, rows: Int) -> Int {
        let d = model.c.hiddenSize
        let s = model.scorers[k].pointer
        saved[depth - 1].pointer.update(from: x.pointer, count: rows * d)
        let idx = keptRows[depth - 1], w = keptWeights[depth - 1].pointer
        var n = 0
        for r in 0..<rows {
            let score = dot(s, x.pointer + r * d, count: d)
            guard score > 0 else { continue }
            idx[n] = Int32(r)
            w[n] = min(score, 1)
            if n != r { (x.pointer + n * d).update(from: x.pointer + r * d, count: d) }
            n += 1
        }
        return n
    }

    /// Writes bracket k's `innerRows` rows back into the rows it received, as the reference's
    /// upsampler and bypass do: kept row j becomes `o + ((i·w + o·(1 − w)) − o) ⊙ b` with o the
    /// outer row, i the inner one, w its weight; the other rows stay o. The result replaces `x`.
    private func upsample(_ k: Int, depth: Int, innerRows: Int) {
        let d = model.c.hiddenSize
        let outer = saved[depth - 1].pointer, idx = keptRows[depth - 1], w = keptWeights[depth - 1].pointer
        let b = model.bypasses[k].pointer
        for j in 0..<innerRows {
            let o = outer + Int(idx[j]) * d, inner = x.pointer + j * d
            let wj = w[j], keepOuter = 1 - wj
            for e in 0..<d {
                let up = inner[e] * wj + o[e] * keepOuter
                o[e] = o[e] + (up - o[e]) * b[e]
            }
        }
        x.pointer.update(from: outer, count: rowCounts[depth - 1] * d)
    }

    /// Decoder block `layer` on the first `rows` rows of `x`: row i goes to cache slot
    /// `slotBase + i` and is rotated at `ropePositions[i]` (at `slotBase + i` when nil).
    private func block(_ layer: Int, rows t: Int, slotBase: Int, ropePositions: UnsafePointer<Int32>?, pool: ThreadPool) {
        let m = model, c = m.c, d = c.hiddenSize, dim = c.headDim
        let blk = m.blocks[layer], cache = caches[layer]
        let qd = c.numHeads * dim, kvd = c.numKVHeads * dim, width = qd + 2 * kvd
        for i in 0..<t { rmsNorm(x.pointer + i * d, weight: blk.attnNorm.pointer, eps: c.normEpsilon, xn.pointer + i * d, count: d) }
        project(blk.qkv, xn.pointer, qkv.pointer, t: t, bias: blk.qkvBias, ws: ws, pool: pool)
        for i in 0..<t {
            let slot = slotBase + i
            let p = ropePositions.map { Int($0[i]) } ?? slot
            let qi = qkv.pointer + i * width, ki = qi + qd, vi = ki + kvd
            applyRoPE(qi, headDim: dim, heads: c.numHeads, position: p, invFreq: m.invFreq.pointer)
            applyRoPE(ki, headDim: dim, heads: c.numKVHeads, position: p, invFreq: m.invFreq.pointer)
            cache.write(slot: slot, key: ki, value: vi)
        }
        if t == 1 {
            // A decode step: the query heads sharing a key/value head read it together.
            pool.parallelRows(total: c.numHeads, alignment: 1, WindowAttentionTask(
                q: qkv.pointer, ring: cache, position: slotBase, heads: c.numHeads, kvHeads: c.numKVHeads, headDim: dim,
                out: attn.pointer, scores: attnScores.pointer))
        } else {
            // Row i reads slots 0…slotBase + i: every token this level has seen up to it.
            var r0 = 0
            while r0 < t {
                let rows = min(attentionTileRows, t - r0)
                pool.parallelRows(total: c.numHeads, alignment: 1, ChunkAttentionTask(
                    q: qkv.pointer + r0 * width, ldq: width, cache: cache, slotBase: slotBase + r0, rows: rows,
                    heads: c.numHeads, kvHeads: c.numKVHeads, headDim: dim, out: attn.pointer + r0 * qd, ldo: qd,
                    scores: attnScores.pointer, capacity: capacityPositions, qScratch: attnQueries.pointer,
                    tileStride: min(chunk, attentionTileRows)))
                r0 += rows
            }
        }
        project(blk.o, attn.pointer, out.pointer, t: t, bias: blk.oBias, ws: ws, pool: pool)
        addInPlace(x.pointer, out.pointer, count: t * d)
        for i in 0..<t { rmsNorm(x.pointer + i * d, weight: blk.ffnNorm.pointer, eps: c.normEpsilon, xn.pointer + i * d, count: d) }
        let f = c.intermediateSize
        project(blk.w12, xn.pointer, h12.pointer, t: t, bias: nil, ws: ws, pool: pool)
        for i in 0..<t {
            let gate = h12.pointer + i * 2 * f, ui = u.pointer + i * f
            silu(gate, ui, count: f)
            mulInPlace(ui, gate + f, count: f)
        }
        project(blk.w3, u.pointer, out.pointer, t: t, bias: nil, ws: ws, pool: pool)
        addInPlace(x.pointer, out.pointer, count: t * d)
    }
}

/// Σ a[i]·b[i] in f32, eight lanes.
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int) -> Float {
    var acc = SIMD8<Float>()
    var i = 0
    while i + 8 <= n {
        acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        i += 8
    }
    var s = acc.sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}
