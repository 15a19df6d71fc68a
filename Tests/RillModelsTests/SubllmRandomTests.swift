import Foundation
import RillConvert
import RillFormat
@testable import RillModels
import RillRuntime
import XCTest

/// SUBLLM and LLaMA on random weights of odd shapes, against ``SubllmReference`` (float64, the
/// reference's gather/scatter semantics): the subsampled attention of every bracket equals
/// dense attention over the tokens it kept at their positions in the sequence it received,
/// whatever the chunking; a dropped token leaves the caches inside the bracket untouched.
final class SubllmRandomTests: XCTestCase {
    /// d 40 (not a multiple of the 32-element block), 4 heads of 10, SwiGLU 44, vocab 61;
    /// sibling and nested brackets, q/k biases, untied head.
    static let structure = "T(TT(T)T)(T)T"
    static let d = 40, heads = 4, ffn = 44, vocab = 61, layers = 7, brackets = 3

    struct Built {
        let model: Model
        let reference: SubllmReference
        let dir: URL
    }

    static func build(_ quant: QuantType = .f32, seed: UInt64 = 5) throws -> Built {
        let d = Self.d, f = Self.ffn, v = Self.vocab
        var ck = RandomCheckpoint(seed: seed)
        var values: [String: [Double]] = [:]
        func add(_ name: String, _ shape: [Int], scale: Float = 0.2, around: Float = 0) {
            let x = ck.rng.floats(shape.reduce(1, *), scale: scale).map { $0 + around }
            ck.add(name, shape, values: x)
            values[name] = x.map(Double.init)
        }
        let p = "decoder."
        add(p + "embed_tokens.weight", [v, d], scale: 1)
        for i in 0..<Self.layers {
            let l = p + "layers.\(i)."
            add(l + "self_attn_layer_norm.weight", [d], scale: 0.2, around: 1)
            for m in ["q", "k", "v", "out"] { add(l + "self_attn.\(m)_proj.weight", [d, d], scale: 0.3) }
            add(l + "self_attn.q_proj.bias", [d], scale: 0.1)
            add(l + "self_attn.k_proj.bias", [d], scale: 0.1)
            add(l + "final_layer_norm.weight", [d], scale: 0.2, around: 1)
            add(l + "feedforward.swiglu.w12.weight", [2 * f, d], scale: 0.3)
            add(l + "feedforward.swiglu.w3.weight", [d, f], scale: 0.3)
        }
        // Bypasses are numbered by their `)` in the reference (the nested one closes first).
        let program = try SubllmStructure(Self.structure, layers: Self.layers)
        for k in 0..<Self.brackets { add(p + "downsamplers.\(k).to_scores.weight", [1, d], scale: 0.5) }
        for j in 0..<Self.brackets { add(p + "bypasses.\(j).bypass_scale", [d], scale: 0.5, around: 0.5) }
        add(p + "layer_norm.weight", [d], scale: 0.2, around: 1)
        add(p + "output_projection.weight", [v, d], scale: 0.3)
        let dir = temporaryDirectory("subllm-random")
        try ck.write(to: dir, config: """
            {"model_type": "subllm", "num_embeddings": \(v), "decoder_embed_dim": \(d), "decoder_ffn_embed_dim": \(f),
             "decoder_layers": \(Self.layers), "decoder_attention_heads": \(Self.heads), "structure": "\(Self.structure)",
             "qk_bias": true, "tie_weights": false, "n_positions": 256, "downsampling_factor_denominator": "0.5",
             "attn_type": "vanilla", "norm_name": "rmsnorm", "padding_idx": 0}
            """)
        let out = dir.appendingPathComponent("m.rill").path
        _ = try Converter.convert(
            directory: dir.path, output: out, options: ConvertOptions(quant: quant),
            tokenizerCheck: { _, _ in TokenizerInfo(format: "", model: "", vocabSize: 0) })
        func w(_ n: String) -> [Double] { values[p + n]! }
        let blocks = (0..<Self.layers).map { i -> SubllmReference.Block in
            let l = "layers.\(i)."
            return SubllmReference.Block(
                attnNorm: w(l + "self_attn_layer_norm.weight"), q: w(l + "self_attn.q_proj.weight"),
                k: w(l + "self_attn.k_proj.weight"), v: w(l + "self_attn.v_proj.weight"), o: w(l + "self_attn.out_proj.weight"),
                qBias: w(l + "self_attn.q_proj.bias"), kBias: w(l + "self_attn.k_proj.bias"), vBias: nil, oBias: nil,
                ffnNorm: w(l + "final_layer_norm.weight"), w12: w(l + "feedforward.swiglu.w12.weight"),
                w3: w(l + "feedforward.swiglu.w3.weight"))
        }
        let reference = SubllmReference(
            d: d, heads: Self.heads, kvHeads: Self.heads, headDim: d / Self.heads, ffn: f, vocab: v,
            structure: Self.structure, eps: 1e-5, invFreq: SubllmReference.plainInvFreq(theta: 10000, headDim: d / Self.heads), embedding: w("embed_tokens.weight"), blocks: blocks,
            scorers: (0..<Self.brackets).map { w("downsamplers.\($0).to_scores.weight") },
            bypasses: (0..<Self.brackets).map { w("bypasses.\(program.closeOrdinal[$0]).bypass_scale") },
            norm: w("layer_norm.weight"), head: w("output_projection.weight"))
        return Built(model: try Model(path: out), reference: reference, dir: dir)
    }

    static let ids: [Int32] = (0..<57).map { (i: Int) -> Int32 in
        let id: Int = (i * 23 + 5) % 60 + 1  // typed: one expression type-checks slowly on Swift 6.0
        return Int32(id)
    }

    func testPrefillAndStepEqualTheGatherScatterReferenceInAnyChunking() throws {
        let b = try Self.build()
        defer { try? FileManager.default.removeItem(at: b.dir) }
        let (want, trace) = b.reference.forward(Self.ids.map(Int.init))
        // The weights must exercise what they test: every bracket keeps some tokens and drops
        // some, and some kept weights lie strictly inside (0, 1).
        for (k, kept) in trace.kept.enumerated() {
            XCTAssert(!kept.isEmpty && kept.count < Self.ids.count, "bracket \(k) keeps \(kept.count) of \(Self.ids.count)")
        }
        XCTAssertLessThan(trace.kept[1].count, trace.kept[0].count, "the nested bracket keeps fewer than its parent")
        let flat = want.flatMap { $0.map(Float.init) }
        for chunk in [1, 3, 8, 64] {
            let pre = try prefillLogits(Session(model: b.model, threads: 2, chunk: chunk), Self.ids)
            XCTAssertLessThanOrEqual(maxAbsDiff(pre[...], flat[...]), 2e-4, "prefill, chunk \(chunk)")
        }
        for threads in [1, 3] {
            let step = try stepLogits(Session(model: b.model, threads: threads, chunk: 16), Self.ids)
            XCTAssertLessThanOrEqual(maxAbsDiff(step[...], flat[...]), 2e-4, "step, \(threads) threads")
        }
        // A prefill split mid-way and continued by steps.
        let s = Session(model: b.model, threads: 2, chunk: 8)
        var mixed = try prefillLogits(s, Array(Self.ids[..<30]))
        mixed += try stepLogits(s, Array(Self.ids[30...]))
        XCTAssertLessThanOrEqual(maxAbsDiff(mixed[...], flat[...]), 2e-4, "prefill then steps")
    }

    func testEachBracketKeepsWhatTheReferenceKeeps() throws {
        let b = try Self.build()
        defer { try? FileManager.default.removeItem(at: b.dir) }
        let (_, trace) = b.reference.forward(Self.ids.map(Int.init))
        let s = Session(model: b.model, threads: 1, chunk: 16)
        let ctx = try XCTUnwrap(s.context as? SubllmContext)
        var counts = [Int](repeating: 0, count: Self.brackets)
        var keptAt = [[Int]](repeating: [], count: Self.brackets)
        for (p, t) in Self.ids.enumerated() {
            try s.step(t)
            for k in 0..<Self.brackets where ctx.kept[k] > counts[k] {
                keptAt[k].append(p)
                counts[k] = ctx.kept[k]
            }
        }
        XCTAssertEqual(keptAt, trace.kept)
    }

    /// A token a bracket drops adds nothing to the caches of the blocks inside it (their
    /// bytes are unchanged), and costs those blocks no work; a token it keeps writes one slot.
    func testADroppedTokenLeavesTheInnerCachesUntouched() throws {
        let b = try Self.build()
        defer { try? FileManager.default.removeItem(at: b.dir) }
        let s = Session(model: b.model, threads: 2, chunk: 16)
        let ctx = try XCTUnwrap(s.context as? SubllmContext)
        let program = b.model.config.subllmProgram!
        func snapshot() -> [[Float]] { ctx.caches.map { c in c.stateBuffers.flatMap(\.floats) } }
        var dropped = 0, keptOuter = 0
        try s.prefill(Array(Self.ids[..<10]))
        for t in Self.ids[10...] {
            let before = snapshot(), keptBefore = ctx.kept
            try s.step(t)
            let after = snapshot()
            for k in 0..<Self.brackets {
                let inner = program.blockBracket.indices.filter { program.blockBracket[$0] == k }
                if ctx.kept[k] == keptBefore[k] {
                    if k == 0 { dropped += 1 }
                    for l in inner { XCTAssertEqual(before[l], after[l], "bracket \(k) dropped the token, yet block \(l)'s cache changed") }
                } else {
                    if k == 0 { keptOuter += 1 }
                    for l in inner { XCTAssertNotEqual(before[l], after[l], "bracket \(k) kept the token, block \(l) cached nothing") }
                }
            }
        }
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertGreaterThan(keptOuter, 0)
    }

    /// int8/int4 files run with f16 caches and stay near the f32 logits (loosely: random
    /// weights leave scores near 0 that rounding can flip, moving a token across a bracket).
    func testQuantisedFilesRunWithHalfCachesAndStayNear() throws {
        let f32 = try Self.build()
        defer { try? FileManager.default.removeItem(at: f32.dir) }
        let want = try stepLogits(Session(model: f32.model, threads: 2), Self.ids)
        for quant in [QuantType.int8, .int4] {
            let q = try Self.build(quant)
            defer { try? FileManager.default.removeItem(at: q.dir) }
            let session = Session(model: q.model, threads: 2)
            XCTAssertEqual(session.kvCache, .f16, "\(quant) files keep f16 keys and values")
            let got = try stepLogits(session, Self.ids)
            XCTAssertTrue(got.allSatisfy(\.isFinite))
            let scale = want.reduce(0) { max($0, abs($1)) }
            // Per position, then the typical and the worst position: a score rounded across 0
            // moves one token across a bracket and that position's logits far (int4k measured
            // a median of 0.09·scale and one position at 0.68·scale; int8 0.01 and 0.05).
            let v = Self.vocab
            let perPosition = (0..<(want.count / v)).map { maxAbsDiff(got[($0 * v)..<(($0 + 1) * v)], want[($0 * v)..<(($0 + 1) * v)]) }.sorted()
            let median = perPosition[perPosition.count / 2], worst = perPosition.last ?? 0
            XCTAssertLessThanOrEqual(median, (quant == .int8 ? 0.02 : 0.15) * scale, "\(quant) median")
            XCTAssertLessThanOrEqual(worst, (quant == .int8 ? 0.1 : 0.8) * scale, "\(quant) worst position")
        }
    }

    func testReachingTheContextIsAnErrorNamingCtx() throws {
        let b = try Self.build()
        defer { try? FileManager.default.removeItem(at: b.dir) }
        let s = Session(model: b.model, threads: 1, chunk: 8, context: 20)
        try s.prefill(Array(Self.ids[..<18]))
        try s.step(3)
        try s.step(4)
        XCTAssertThrowsError(try s.step(5)) { e in
            XCTAssertEqual(e as? SessionError, .contextFull(capacity: 20, position: 20, adding: 1))
            XCTAssert("\(e)".contains("--ctx"), "\(e)")
        }
        XCTAssertThrowsError(try Session(model: b.model, threads: 1, context: 10).prefill(Self.ids))
    }

    /// A state file holds the caches and the bracket counters: restored, decoding continues
    /// with the same logits, bit for bit.
    func testStateFileRestoresCachesAndBracketCounters() throws {
        let b = try Self.build()
        defer { try? FileManager.default.removeItem(at: b.dir) }
        let path = b.dir.appendingPathComponent("s.rillstate").path
        let first = Session(model: b.model, threads: 2, context: 100)
        try first.prefill(Array(Self.ids[..<40]))
        _ = try StateFile.save(session: first, sampler: nil, to: path)
        let straight = try stepLogits(first, Array(Self.ids[40...]))
        let second = Session(model: b.model, threads: 1, context: 100)
        try StateFile.load(into: second, sampler: nil, from: path)
        let restored = (second.context as! SubllmContext).kept
        XCTAssertEqual(restored, try keptAfter40(b))
        XCTAssert(restored.allSatisfy { $0 > 0 })
        XCTAssertEqual(try stepLogits(second, Array(Self.ids[40...])), straight)
    }

    private func keptAfter40(_ b: Built) throws -> [Int] {
        let s = Session(model: b.model, threads: 1)
        try s.prefill(Array(Self.ids[..<40]))
        return (s.context as! SubllmContext).kept
    }

    /// The memory a session holds is made when it is created: decoding to the end of the
    /// context allocates nothing more (the caches' pages fill in place).
    func testStateBytesAreFixedAtCreation() throws {
        let b = try Self.build()
        defer { try? FileManager.default.removeItem(at: b.dir) }
        let s = Session(model: b.model, threads: 1, chunk: 8, context: 64)
        let reserved = s.stateBytes
        XCTAssertEqual(reserved, Self.layers * 2 * 64 * Self.d * 4 + Self.brackets * 4)
        try s.prefill(Self.ids)
        XCTAssertEqual(s.stateBytes, reserved)
    }
}

/// Plain LLaMA through the same runtime: grouped-query attention, a head width other than
/// d / H, biases on q, k, v and o, Llama 3.1's RoPE scaling, a tied head.
final class LlamaRandomTests: XCTestCase {
    func testLlamaEqualsTheDenseReference() throws {
        let d = 40, heads = 4, kv = 2, dim = 12, f = 36, v = 53, layers = 3
        var ck = RandomCheckpoint(seed: 9)
        var values: [String: [Double]] = [:]
        func add(_ name: String, _ shape: [Int], scale: Float = 0.3, around: Float = 0) {
            let x = ck.rng.floats(shape.reduce(1, *), scale: scale).map { $0 + around }
            ck.add(name, shape, values: x)
            values[name] = x.map(Double.init)
        }
        add("model.embed_tokens.weight", [v, d], scale: 1)
        for i in 0..<layers {
            let l = "model.layers.\(i)."
            add(l + "input_layernorm.weight", [d], scale: 0.2, around: 1)
            add(l + "self_attn.q_proj.weight", [heads * dim, d])
            add(l + "self_attn.k_proj.weight", [kv * dim, d])
            add(l + "self_attn.v_proj.weight", [kv * dim, d])
            add(l + "self_attn.o_proj.weight", [d, heads * dim])
            add(l + "self_attn.q_proj.bias", [heads * dim], scale: 0.1)
            add(l + "self_attn.k_proj.bias", [kv * dim], scale: 0.1)
            add(l + "self_attn.v_proj.bias", [kv * dim], scale: 0.1)
            add(l + "self_attn.o_proj.bias", [d], scale: 0.1)
            add(l + "post_attention_layernorm.weight", [d], scale: 0.2, around: 1)
            add(l + "mlp.gate_proj.weight", [f, d])
            add(l + "mlp.up_proj.weight", [f, d])
            add(l + "mlp.down_proj.weight", [d, f])
        }
        add("model.norm.weight", [d], scale: 0.2, around: 1)
        let dir = temporaryDirectory("llama-random")
        defer { try? FileManager.default.removeItem(at: dir) }
        // factor 8, low 1, high 4, original 64: over head width 12 with θ 10 000 the six
        // wavelengths (6.3 … 2·10⁴·…) fall in all three of llama3's bands.
        try ck.write(to: dir, config: """
            {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": \(d), "num_hidden_layers": \(layers),
             "num_attention_heads": \(heads), "num_key_value_heads": \(kv), "head_dim": \(dim), "intermediate_size": \(f),
             "vocab_size": \(v), "rms_norm_eps": 1e-5, "attention_bias": true, "tie_word_embeddings": true,
             "max_position_embeddings": 128, "rope_theta": 10000.0,
             "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                              "original_max_position_embeddings": 64}}
            """)
        let out = dir.appendingPathComponent("m.rill").path
        _ = try Converter.convert(
            directory: dir.path, output: out, options: ConvertOptions(quant: .f32),
            tokenizerCheck: { _, _ in TokenizerInfo(format: "", model: "", vocabSize: 0) })
        let model = try Model(path: out)
        // Llama 3.1's frequencies, from its published formula (in Double).
        let inv = (0..<(dim / 2)).map { i -> Double in
            let base = pow(10000.0, -Double(2 * i) / Double(dim))
            let wavelen = 2 * Double.pi / base, low = 64.0 / 1, high = 64.0 / 4
            if wavelen < high { return base }
            if wavelen > low { return base / 8 }
            let s = (64 / wavelen - 1) / (4 - 1)
            return (1 - s) * base / 8 + s * base
        }
        func w(_ n: String) -> [Double] { values[n]! }
        func cat(_ a: String, _ b: String) -> [Double] { w(a) + w(b) }
        let blocks = (0..<layers).map { i -> SubllmReference.Block in
            let l = "model.layers.\(i)."
            return SubllmReference.Block(
                attnNorm: w(l + "input_layernorm.weight"), q: w(l + "self_attn.q_proj.weight"), k: w(l + "self_attn.k_proj.weight"),
                v: w(l + "self_attn.v_proj.weight"), o: w(l + "self_attn.o_proj.weight"), qBias: w(l + "self_attn.q_proj.bias"),
                kBias: w(l + "self_attn.k_proj.bias"), vBias: w(l + "self_attn.v_proj.bias"), oBias: w(l + "self_attn.o_proj.bias"),
                ffnNorm: w(l + "post_attention_layernorm.weight"), w12: cat(l + "mlp.gate_proj.weight", l + "mlp.up_proj.weight"),
                w3: w(l + "mlp.down_proj.weight"))
        }
        let reference = SubllmReference(
            d: d, heads: heads, kvHeads: kv, headDim: dim, ffn: f, vocab: v, structure: String(repeating: "T", count: layers),
            eps: 1e-5, invFreq: inv, embedding: w("model.embed_tokens.weight"), blocks: blocks, scorers: [], bypasses: [],
            norm: w("model.norm.weight"), head: w("model.embed_tokens.weight"))
        let ids: [Int32] = (0..<70).map { Int32(($0 * 31 + 2) % v) }
        let want = reference.forward(ids.map(Int.init)).logits.flatMap { $0.map(Float.init) }
        // Chunks of 5, 16 and 64 rows: the prefill's causal attention takes tiles of 16 rows
        // (ChunkAttentionTask), so these cover one partial tile, whole tiles after earlier
        // chunks, and several tiles with a remainder of 6.
        for chunk in [5, 16, 64] {
            let pre = try prefillLogits(Session(model: model, threads: 2, chunk: chunk), ids)
            XCTAssertLessThanOrEqual(maxAbsDiff(pre[...], want[...]), 2e-4, "prefill, chunk \(chunk)")
        }
        let step = try stepLogits(Session(model: model, threads: 3), ids)
        XCTAssertLessThanOrEqual(maxAbsDiff(step[...], want[...]), 2e-4, "step")
        // With f16 keys and values the tiles read the same rounded cache the steps read.
        let halfPre = try prefillLogits(Session(model: model, threads: 2, chunk: 64, kvCache: .f16), ids)
        let halfStep = try stepLogits(Session(model: model, threads: 2, kvCache: .f16), ids)
        XCTAssertLessThanOrEqual(maxAbsDiff(halfPre[...], halfStep[...]), 2e-4, "f16 cache: prefill against steps")
        XCTAssertLessThanOrEqual(maxAbsDiff(halfPre[...], want[...]), 2e-2, "f16 cache against the reference")
    }
}

extension ModelConfig {
    var subllmProgram: SubllmStructure? {
        if case let .subllm(c) = self { return c.program }
        return nil
    }
}
