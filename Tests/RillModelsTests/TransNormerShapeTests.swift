import Foundation
import RillConvert
import RillFormat
import RillRuntime
import XCTest

/// TransNormerLLM shapes no fixture has: heads not a power of two, LRPE on several layers,
/// and far positions.
final class TransNormerShapeTests: XCTestCase {
    /// 6 heads (the reference's slope workaround), LRPE on layers 0 and 2, no embedding scale.
    private func makeModel() throws -> (Model, URL) {
        let d = 48, heads = 6, hd = d / heads, g = 80, v = 97, layers = 3
        var ck = RandomCheckpoint(seed: 11)
        ck.add("model.embed_tokens.weight", [v, d], scale: 1)
        ck.add("lm_head.weight", [v, d], scale: 0.2)
        for i in 0..<layers {
            let p = "model.layers.\(i)."
            ck.add(p + "token_mixer.qkvu_proj.weight", [4 * d, d], scale: 0.2)
            ck.add(p + "token_mixer.out_proj.weight", [d, d], scale: 0.2)
            ck.add(p + "channel_mixer.l1.weight", [g, d], scale: 0.2)
            ck.add(p + "channel_mixer.l2.weight", [g, d], scale: 0.2)
            ck.add(p + "channel_mixer.l3.weight", [d, g], scale: 0.2)
            if i != 1 {
                let theta = (0..<d).map { Float(pow(10000.0, -2.0 / Double(d) * Double($0))) }
                ck.add(p + "token_mixer.lrpe.theta", [heads, 1, hd], values: theta)
            }
        }
        let dir = temporaryDirectory("tn6")
        try ck.write(to: dir, config: """
            {"model_type": "transnormer", "architectures": ["TransnormerForCausalLM"], "decoder_embed_dim": \(d),
             "hidden_dim": \(d), "decoder_layers": \(layers), "decoder_attention_heads": \(heads), "glu_dim": \(g),
             "vocab_size": \(v), "linear_use_lrpe_list": [1, 0, 1], "no_scale_embedding": true,
             "norm_type": "simplermsnorm", "linear_act_fun": "silu", "bias": false}
            """)
        let out = dir.appendingPathComponent("m.rill").path
        _ = try Converter.convert(
            directory: dir.path, output: out, options: ConvertOptions(quant: .f32),
            tokenizerCheck: { _, _ in TokenizerInfo(format: "", model: "", vocabSize: 0) })
        return (try Model(path: out), dir)
    }

    func testSixHeadSlopesFollowTheReferenceWorkaround() throws {
        let (model, dir) = try makeModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Reference: slopes(4) + slopes(8)[0::2][:2], layer 0 scaled by (1 − 0 + 1e−5).
        let want: [Double] = [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]
        let slope = try model.file.tensor("model.layers.0.token_mixer.slope")
        for h in 0..<6 { XCTAssertEqual(Double(slope.f32[h]), want[h] * (1 + 1e-5), accuracy: want[h] * 1e-6) }  // float32
        // Last layer: scale 1e−5.
        let last = try model.file.tensor("model.layers.2.token_mixer.slope")
        for h in 0..<6 { XCTAssertEqual(Double(last.f32[h]), want[h] * 1e-5, accuracy: want[h] * 1e-11) }
    }

    /// Prefill (block algorithm, chunk 16) and step give the same logits over 100 tokens.
    func testPrefillEqualsStepWithSixHeadsAndLRPEOnTwoLayers() throws {
        let (model, dir) = try makeModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ids: [Int32] = (0..<100).map { Int32(($0 * 37 + 5) % 97) }
        let a = Session(model: model, threads: 2, chunk: 16)
        let pre = try prefillLogits(a, ids)
        let b = Session(model: model, threads: 1, chunk: 16)
        let step = try stepLogits(b, ids)
        XCTAssertTrue(pre.allSatisfy(\.isFinite))
        XCTAssertLessThanOrEqual(maxAbsDiff(pre[...], step[...]), 1e-4)
        // Decode splits the heads over the pool: 4 threads give 6 heads as 2, 2, 2 (and one
        // idle thread); each head's arithmetic is the same, so the bits are.
        let c = Session(model: model, threads: 4, chunk: 16)
        XCTAssertEqual(try stepLogits(c, ids), step)
    }

    /// At position 10,000,000 nothing overflows or underflows (only relative decays are used)
    /// and the two paths still agree.
    func testPositionTenMillionStaysFiniteAndPathsAgree() throws {
        let (model, dir) = try makeModel()
        defer { try? FileManager.default.removeItem(at: dir) }
        let ids: [Int32] = (0..<70).map { Int32(($0 * 13 + 1) % 97) }
        let a = Session(model: model, threads: 2, chunk: 32)
        a.context.setPosition(10_000_000)
        let pre = try prefillLogits(a, ids)
        let b = Session(model: model, threads: 2, chunk: 32)
        b.context.setPosition(10_000_000)
        let step = try stepLogits(b, ids)
        XCTAssertTrue(pre.allSatisfy(\.isFinite))
        XCTAssertTrue(step.allSatisfy(\.isFinite))
        XCTAssertLessThanOrEqual(maxAbsDiff(pre[...], step[...]), 1e-3)
    }
}
