import Foundation
import RillConvert
import RillFormat
import RillModels
import RillRuntime
import XCTest

/// `rill convert --calibrate`: the statistics a float model's run collects, and the conversion
/// they steer.
final class CalibrationTests: XCTestCase {
    /// Token ids of every golden prompt of mamba-tiny, one after another.
    func calibrationIDs() throws -> [Int32] {
        try Golden(folder: fixturesURL.appendingPathComponent("mamba-tiny")).prompts.flatMap(\.ids)
    }

    /// The first block's in_proj multiplies RMSNorm(embedding row) · norm weight: its statistics
    /// are that vector's per-column mean square over the tokens, computed here from the file.
    /// Every projection and the tied head are seen, once per token.
    func testStatisticsAreEachProjectionsMeanSquareInput() throws {
        let model = try Model(path: try ConvertedFixtures.path("mamba-tiny", .f32))
        guard case let .mamba(c) = model.config else { return XCTFail("not mamba") }
        let ids = try calibrationIDs()
        let session = Session(model: model, threads: 2, chunk: 7, context: ids.count)
        let r = try Calibration.collect(session: session, tokens: ids, context: 40)
        XCTAssertNil(session.context.activationStatistics, "statistics left attached after the run")
        // Pieces of 40; a last piece under a quarter of that is left out.
        let full = ids.count / 40, rem = ids.count % 40
        XCTAssertEqual(r.chunks, full == 0 ? 1 : full + (rem >= 10 ? 1 : 0))
        XCTAssertEqual(r.tokens, full == 0 ? ids.count : 40 * full + (rem >= 10 ? rem : 0))

        let d = c.hiddenSize
        let emb = try model.file.tensor("backbone.embeddings.weight", shape: [c.vocabSize, d]).f32
        let norm = try model.file.tensor("backbone.layers.0.norm.weight", shape: [d]).f32
        var expected = [Double](repeating: 0, count: d)
        for t in ids.prefix(r.tokens) {
            let row = emb + Int(t) * d
            var ss: Float = 0
            for j in 0..<d { ss += row[j] * row[j] }
            let inv = 1 / (ss / Float(d) + c.layerNormEpsilon).squareRoot()
            for j in 0..<d { expected[j] += Double(row[j] * inv * norm[j]) * Double(row[j] * inv * norm[j]) }
        }
        let got = try XCTUnwrap(r.importance["backbone.layers.0.mixer.in_proj.weight"])
        XCTAssertEqual(got.count, d)
        for j in 0..<d {
            let want = expected[j] / Double(r.tokens)
            XCTAssertEqual(Double(got[j]), want, accuracy: 1e-4 * want + 1e-9, "column \(j)")
        }
        for l in 0..<c.numLayers {
            for p in ["in_proj", "x_proj", "dt_proj", "out_proj"] {
                let name = "backbone.layers.\(l).mixer.\(p).weight"
                let w = try XCTUnwrap(r.importance[name], name)
                XCTAssertEqual(w.count, model.file.tensors.first { $0.name == name }!.shape.last)
                XCTAssert(w.allSatisfy { $0.isFinite && $0 >= 0 } && w.contains { $0 > 0 }, name)
            }
        }
        XCTAssertNotNil(r.importance["backbone.embeddings.weight"], "the tied head's input")
    }

    /// The steered file records its calibration (format 2.5), marks its int4k tensors, and
    /// their importance-weighted error against the f32 weights is below the unsteered file's;
    /// statistics of another model's shape are refused by name.
    func testCalibratedConversionRecordsItAndLowersTheWeightedError() throws {
        let f32 = try Model(path: try ConvertedFixtures.path("mamba-tiny", .f32))
        let ids = try calibrationIDs()
        let r = try Calibration.collect(session: Session(model: f32, threads: 2, chunk: 16, context: 64), tokens: ids, context: 64)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-calib-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let info = CalibrationInfo(file: "ids", bytes: 0, xxh64: "0x0000000000000000", tokens: r.tokens, context: 64)
        let check: ([UInt8], String) throws -> TokenizerInfo = { _, _ in TokenizerInfo(format: "hf-tokenizer-json", model: "BPE", vocabSize: 0) }
        let src = fixturesURL.appendingPathComponent("mamba-tiny").path
        let steeredPath = dir.appendingPathComponent("steered.rill").path
        let summary = try Converter.convert(
            directory: src, output: steeredPath,
            options: ConvertOptions(quant: .int4, importance: r.importance, calibration: info), tokenizerCheck: check)
        let plainPath = try ConvertedFixtures.path("mamba-tiny", .int4)

        let steered = try RillFile(path: steeredPath), plain = try RillFile(path: plainPath)
        XCTAssertEqual(steered.header.minor, 5)
        XCTAssertEqual(steered.metadata.quantization.calibration, info)
        XCTAssertNil(plain.metadata.quantization.calibration)
        let int4k = summary.tensors.filter { $0.type == .int4k }
        XCTAssertFalse(int4k.isEmpty)
        XCTAssert(int4k.allSatisfy(\.calibrated))
        XCTAssert(summary.tensors.filter { $0.type != .int4k }.allSatisfy { !$0.calibrated })

        var before = 0.0, after = 0.0
        for t in int4k {
            let w = r.importance[t.name]!
            let rows = t.shape[0], cols = t.shape[1]
            let ref = try f32.file.tensor(t.name, shape: t.shape).f32
            let a = try steered.tensor(t.name, shape: t.shape), b = try plain.tensor(t.name, shape: t.shape)
            var ra = [Float](repeating: 0, count: cols), rb = ra
            for row in 0..<rows {
                ra.withUnsafeMutableBufferPointer { a.dequantizeRow(row, into: $0) }
                rb.withUnsafeMutableBufferPointer { b.dequantizeRow(row, into: $0) }
                for j in 0..<cols {
                    let x = ref[row * cols + j]
                    after += Double(w[j]) * Double((x - ra[j]) * (x - ra[j]))
                    before += Double(w[j]) * Double((x - rb[j]) * (x - rb[j]))
                }
            }
        }
        XCTAssertLessThan(after, 0.97 * before, "weighted error \(after) vs \(before) uncalibrated")

        var wrong = r.importance
        wrong["backbone.layers.1.mixer.out_proj.weight"] = [1, 2, 3]
        XCTAssertThrowsError(try Converter.convert(
            directory: src, output: dir.appendingPathComponent("wrong.rill").path,
            options: ConvertOptions(quant: .int4, importance: wrong, calibration: info), tokenizerCheck: check)
        ) { e in
            XCTAssert("\(e)".contains("backbone.layers.1.mixer.out_proj.weight"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("wrong.rill").path))
    }

    /// Fewer than two tokens is refused; nothing is left attached.
    func testTooShortATextIsRefused() throws {
        let session = Session(model: try Model(path: try ConvertedFixtures.path("mamba-tiny", .f32)), threads: 1)
        XCTAssertThrowsError(try Calibration.collect(session: session, tokens: [5], context: 16)) { e in
            XCTAssertEqual(e as? CalibrationError, .textTooShort(tokens: 1))
        }
        XCTAssertNil(session.context.activationStatistics)
    }
}
