import Foundation
import RillConvert
import RillFormat
import RillRuntime
import XCTest

/// Mamba shapes no fixture has: d_inner not a multiple of the 32-element block (the fused
/// decode step's channel ranges end in a partial block), a state size that is not a multiple
/// of 8 lanes, and a dt rank below one block (dt_proj stays f32).
final class MambaShapeTests: XCTestCase {
    private func makeModel(_ quant: QuantType) throws -> (Model, URL) {
        let d = 40, e = 88, n = 5, r = 3, k = 4, v = 61, layers = 2
        var ck = RandomCheckpoint(seed: 21)
        ck.add("backbone.embeddings.weight", [v, d], scale: 1)
        for i in 0..<layers {
            let p = "backbone.layers.\(i)."
            ck.add(p + "norm.weight", [d], values: [Float](repeating: 1, count: d))
            ck.add(p + "mixer.in_proj.weight", [2 * e, d], scale: 0.2)
            ck.add(p + "mixer.conv1d.weight", [e, 1, k], scale: 0.4)
            ck.add(p + "mixer.conv1d.bias", [e], scale: 0.1)
            ck.add(p + "mixer.x_proj.weight", [r + 2 * n, e], scale: 0.2)
            ck.add(p + "mixer.dt_proj.weight", [e, r], scale: 0.3)
            ck.add(p + "mixer.dt_proj.bias", [e], scale: 0.5)
            ck.add(p + "mixer.A_log", [e, n], values: (0..<(e * n)).map { Float(log(Double($0 % n + 1))) })
            ck.add(p + "mixer.D", [e], values: [Float](repeating: 1, count: e))
            ck.add(p + "mixer.out_proj.weight", [d, e], scale: 0.2)
        }
        ck.add("backbone.norm_f.weight", [d], values: [Float](repeating: 1, count: d))
        let dir = temporaryDirectory("mamba-odd")
        try ck.write(to: dir, config: """
            {"model_type": "mamba", "architectures": ["MambaForCausalLM"], "hidden_size": \(d),
             "intermediate_size": \(e), "state_size": \(n), "time_step_rank": \(r), "conv_kernel": \(k),
             "num_hidden_layers": \(layers), "vocab_size": \(v), "use_conv_bias": true, "use_bias": false,
             "tie_word_embeddings": true}
            """)
        let out = dir.appendingPathComponent("m.rill").path
        _ = try Converter.convert(
            directory: dir.path, output: out, options: ConvertOptions(quant: quant),
            tokenizerCheck: { _, _ in TokenizerInfo(format: "", model: "", vocabSize: 0) })
        return (try Model(path: out), dir)
    }

    private let ids: [Int32] = (0..<80).map { Int32(($0 * 29 + 3) % 61) }

    /// f32: decode on 1, 2 and 3 threads and chunked prefill give the same logits.
    func testF32StepEqualsPrefillOnAnyThreadCount() throws {
        let (model, dir) = try makeModel(.f32)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pre = try prefillLogits(Session(model: model, threads: 2, chunk: 16), ids)
        XCTAssertTrue(pre.allSatisfy(\.isFinite))
        for threads in [1, 2, 3] {
            let step = try stepLogits(Session(model: model, threads: threads, chunk: 16), ids)
            XCTAssertLessThanOrEqual(maxAbsDiff(pre[...], step[...]), 1e-4, "\(threads) threads")
        }
    }

    /// int8 and int4: the fused decode step quantises each channel range's activation blocks
    /// in its own task; the logits are the same bits whatever the split, and close to prefill
    /// (which multiplies float activations).
    func testQuantisedStepIsIndependentOfThreadCountAndCloseToPrefill() throws {
        for quant in [QuantType.int8, .int4] {
            let (model, dir) = try makeModel(quant)
            defer { try? FileManager.default.removeItem(at: dir) }
            let one = try stepLogits(Session(model: model, threads: 1, chunk: 16), ids)
            XCTAssertTrue(one.allSatisfy(\.isFinite), "\(quant)")
            for threads in [2, 3] {
                let many = try stepLogits(Session(model: model, threads: threads, chunk: 16), ids)
                XCTAssertEqual(one, many, "\(quant): \(threads) threads")
            }
            let pre = try prefillLogits(Session(model: model, threads: 2, chunk: 16), ids)
            let scale = pre.reduce(0) { max($0, abs($1)) }
            XCTAssertLessThanOrEqual(maxAbsDiff(pre[...], one[...]), 0.05 * scale, "\(quant): step vs prefill")
        }
    }
}
