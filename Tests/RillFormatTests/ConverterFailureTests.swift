import Foundation
import RillConvert
import RillFormat
import XCTest

/// A synthetic Mamba checkpoint small enough to rewrite in every test (d 32, 2 layers,
/// vocab 64, state 4, conv 4, d_inner 64, dt rank "auto" = 2).
enum TinyMamba {
    static let config = """
        {"architectures":["MambaForCausalLM"],"model_type":"mamba","hidden_size":32,"num_hidden_layers":2,
        "vocab_size":64,"state_size":4,"conv_kernel":4,"expand":2,"time_step_rank":"auto","use_conv_bias":true,
        "use_bias":false,"tie_word_embeddings":true,"layer_norm_epsilon":1e-5,"bos_token_id":0,"eos_token_id":0}
        """
    static let tokenizer = #"{"version":"1.0","model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":[]}}"#

    static func tensors(seed: UInt64 = 1) -> [STTensor] {
        var rng = SplitMix64(seed: seed)
        func t(_ name: String, _ shape: [Int]) -> STTensor { .f32(name, shape, rng.floats(shape.reduce(1, *))) }
        var out = [t("backbone.embeddings.weight", [64, 32])]
        for i in 0..<2 {
            let p = "backbone.layers.\(i)."
            out += [
                t(p + "norm.weight", [32]), t(p + "mixer.in_proj.weight", [128, 32]), t(p + "mixer.conv1d.weight", [64, 1, 4]),
                t(p + "mixer.conv1d.bias", [64]), t(p + "mixer.x_proj.weight", [10, 64]), t(p + "mixer.dt_proj.weight", [64, 2]),
                t(p + "mixer.dt_proj.bias", [64]), t(p + "mixer.A_log", [64, 4]), t(p + "mixer.D", [64]),
                t(p + "mixer.out_proj.weight", [32, 64]),
            ]
        }
        out.append(t("backbone.norm_f.weight", [32]))
        return out
    }

    /// Writes the checkpoint folder `dir` (created), optionally changed.
    static func write(to dir: String, tensors: [STTensor] = tensors(), config: String = config) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try writeBytes(Array(config.utf8), to: dir + "/config.json")
        try writeBytes(Array(tokenizer.utf8), to: dir + "/tokenizer.json")
        try writeBytes(safetensorsBytes(tensors), to: dir + "/model.safetensors")
    }
}

/// A failed conversion leaves nothing behind: neither OUT nor any `OUT.partial-*`, and the
/// error names the file and the field.
final class ConverterFailureTests: XCTestCase {
    var checkpoint = ""
    var outDir = ""
    var out = ""

    override func setUpWithError() throws {
        let dir = try makeTemporaryDirectory()
        checkpoint = dir.appendingPathComponent("ckpt").path
        outDir = dir.appendingPathComponent("out").path
        out = outDir + "/model.rill"
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
    }

    func convert(quant: QuantType = .int4, overrides: [(pattern: String, type: QuantType)] = [], events: (ConvertEvent) -> Void = { _ in }) throws -> ConvertSummary {
        try Converter.convert(
            directory: checkpoint, output: out, options: ConvertOptions(quant: quant, overrides: overrides),
            tokenizerCheck: fixtureTokenizerCheck, events: events)
    }

    func assertNothingLeft(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "OUT exists", file: file, line: line)
        XCTAssertEqual(files(in: outDir, withPrefix: "model.rill.partial-"), [], file: file, line: line)
    }

    func testTinyCheckpointConverts() throws {
        try TinyMamba.write(to: checkpoint)
        let summary = try convert()
        XCTAssertEqual(summary.warnings, [])
        XCTAssert(try RillFile(path: out).verify().isEmpty)
        XCTAssertEqual(files(in: outDir, withPrefix: "model.rill.partial-"), [])
    }

    /// An output folder that does not exist: the error names the output asked for (not the
    /// temporary file beside it) and the reason.
    func testMissingOutputFolderNamesTheOutput() throws {
        try TinyMamba.write(to: checkpoint)
        out = outDir + "/no-such-folder/model.rill"
        XCTAssertThrowsError(try convert()) { e in
            let text = "\(e)"
            XCTAssert(text.hasPrefix(out + ": cannot create it"), text)
            XCTAssert(text.contains("No such file or directory"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testMissingTensorLeavesNothing() throws {
        try TinyMamba.write(to: checkpoint, tensors: TinyMamba.tensors().filter { $0.name != "backbone.layers.1.mixer.D" })
        assertRillError(.missingTensor, field: "backbone.layers.1.mixer.D") { try convert() }
        assertNothingLeft()
    }

    /// The NaN is in the last tensor written, so the temporary file exists when it is found.
    func testNaNWeightLeavesNothing() throws {
        var tensors = TinyMamba.tensors()
        let last = tensors.count - 1
        XCTAssertEqual(tensors[last].name, "backbone.norm_f.weight")
        tensors[last].data.replaceSubrange(20..<24, with: [UInt8].le(Float.nan.bitPattern))
        try TinyMamba.write(to: checkpoint, tensors: tensors)
        var sawPartial = false
        assertRillError(.invalidField, field: "tensor 'backbone.norm_f.weight'[5]") {
            try convert { _ in sawPartial = sawPartial || !files(in: self.outDir, withPrefix: "model.rill.partial-").isEmpty }
        }
        XCTAssert(sawPartial, "the failure came after writing had started")
        assertNothingLeft()
    }

    func testInfiniteWeightLeavesNothing() throws {
        var tensors = TinyMamba.tensors()
        tensors[2].data.replaceSubrange(0..<4, with: [UInt8].le((-Float.infinity).bitPattern))
        try TinyMamba.write(to: checkpoint, tensors: tensors)
        assertRillError(.invalidField, field: "tensor '\(tensors[2].name)'[0]") { try convert() }
        assertNothingLeft()
    }

    func testUnknownModelTypeListsSupportedArchitectures() throws {
        try TinyMamba.write(to: checkpoint, config: #"{"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"n_embd":32}"#)
        guard let e = rillError({ try convert() }) else { return }
        guard case let .unsupportedArchitecture(path, found, supported) = e else { return XCTFail("\(e)") }
        XCTAssertEqual(path, checkpoint + "/config.json")
        XCTAssertEqual(found, "GPT2LMHeadModel")
        for arch in ["mamba", "transnormer", "samba"] {
            XCTAssert(supported.contains { $0.hasPrefix(arch) }, "\(supported) lacks \(arch)")
        }
        assertNothingLeft()
    }

    func testConfigThatIsNotJSONLeavesNothing() throws {
        try TinyMamba.write(to: checkpoint, config: #"{"model_type": "mamba", "#)
        assertRillError(.badJSON, field: "config") { try convert() }
        assertNothingLeft()
    }

    /// A missing key takes the reference class's default (`hidden_size` 768), which these
    /// 32-wide tensors then contradict: the error names the tensor and the shapes.
    func testConfigMissingAKeyTakesTheDefaultAndTheTensorsDisagree() throws {
        try TinyMamba.write(to: checkpoint, config: TinyMamba.config.replacingOccurrences(of: "\"hidden_size\"", with: "\"hidden\""))
        guard let e = rillError({ try convert() }) else { return }
        XCTAssert(e.description.contains("backbone.embeddings.weight") && e.description.contains("768"), e.description)
        assertNothingLeft()
    }

    func testConfigOutOfRangeLeavesNothing() throws {
        try TinyMamba.write(to: checkpoint, config: TinyMamba.config.replacingOccurrences(of: "\"state_size\":4", with: "\"state_size\":0"))
        assertRillError(.invalidField, field: "state_size") { try convert() }
        assertNothingLeft()
    }

    func testTruncatedSafetensorsDataLeavesNothing() throws {
        try TinyMamba.write(to: checkpoint)
        let path = checkpoint + "/model.safetensors"
        let bytes = try readBytes(path)
        try writeBytes(Array(bytes[0..<(bytes.count / 2)]), to: path)
        guard let e = rillError({ try convert() }) else { return }
        XCTAssertEqual(e.kind, .invalidField)
        XCTAssert(e.field?.hasSuffix(".data_offsets") == true, e.description)
        assertNothingLeft()
    }

    func testTruncatedSafetensorsHeaderLeavesNothing() throws {
        try TinyMamba.write(to: checkpoint)
        let path = checkpoint + "/model.safetensors"
        try writeBytes(Array(try readBytes(path)[0..<100]), to: path)
        assertRillError(.truncated, field: "header") { try convert() }
        assertNothingLeft()
    }

    func testWrongSourceShapeLeavesNothing() throws {
        var tensors = TinyMamba.tensors()
        let i = tensors.firstIndex { $0.name == "backbone.layers.0.mixer.in_proj.weight" }!
        tensors[i].shape = [32, 128]
        try TinyMamba.write(to: checkpoint, tensors: tensors)
        assertRillError(.invalidField, field: "tensor 'backbone.layers.0.mixer.in_proj.weight'.shape") { try convert() }
        assertNothingLeft()
    }

    func testMissingSafetensorsLeavesNothing() throws {
        try TinyMamba.write(to: checkpoint)
        try FileManager.default.removeItem(atPath: checkpoint + "/model.safetensors")
        assertRillError(.io) { try convert() }
        assertNothingLeft()
    }

    func testRejectedTokenizerLeavesNothing() throws {
        try TinyMamba.write(to: checkpoint)
        struct Unsupported: Error {}
        XCTAssertThrowsError(try Converter.convert(
            directory: checkpoint, output: out, options: ConvertOptions(quant: .int8),
            tokenizerCheck: { _, _ in throw Unsupported() })) { XCTAssert($0 is Unsupported) }
        assertNothingLeft()
    }

    func testMissingOutputFolderIsAnIOError() throws {
        try TinyMamba.write(to: checkpoint)
        out = outDir + "/absent/model.rill"
        assertRillError(.io) { try convert() }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outDir), [])
    }

    // MARK: - What a successful conversion does with unusual input

    func testUnusedCheckpointTensorsAreReportedAsAWarning() throws {
        try TinyMamba.write(to: checkpoint, tensors: TinyMamba.tensors() + [.f32("extra.weight", [2], [1, 2])])
        let summary = try convert()
        XCTAssertEqual(summary.warnings.count, 1)
        XCTAssert(summary.warnings[0].contains("extra.weight"), summary.warnings[0])
    }

    // MARK: - The tied LM head, decided as transformers 5 decides it

    private func headTensor(equalToEmbedding: Bool) -> STTensor {
        let embedding = TinyMamba.tensors().first { $0.name == "backbone.embeddings.weight" }!
        if equalToEmbedding { return STTensor(name: "lm_head.weight", dtype: "F32", shape: [64, 32], data: embedding.data) }
        var rng = SplitMix64(seed: 99)
        return .f32("lm_head.weight", [64, 32], rng.floats(64 * 32))
    }

    func testTiedFlagWithAStoredCopyOfTheEmbeddingIsTiedAndTheCopyIsRead() throws {
        try TinyMamba.write(to: checkpoint, tensors: TinyMamba.tensors() + [headTensor(equalToEmbedding: true)])
        let summary = try convert()
        XCTAssertEqual(summary.warnings, [], "the copy is read, not reported as unused")
        let file = try RillFile(path: out)
        XCTAssertNil(file.spec("lm_head.weight"))
        guard case let .mamba(c) = file.metadata.config else { return XCTFail() }
        XCTAssertTrue(c.tieWordEmbeddings)
    }

    func testTiedFlagWithADifferentStoredHeadKeepsTheHead() throws {
        try TinyMamba.write(to: checkpoint, tensors: TinyMamba.tensors() + [headTensor(equalToEmbedding: false)])
        let summary = try convert()
        XCTAssertEqual(summary.warnings.count, 1)
        XCTAssert(summary.warnings[0].contains("differs"), summary.warnings[0])
        let file = try RillFile(path: out)
        XCTAssertNotNil(file.spec("lm_head.weight"))
        guard case let .mamba(c) = file.metadata.config else { return XCTFail() }
        XCTAssertFalse(c.tieWordEmbeddings)
        XCTAssertEqual(file.metadata.configSources?["tie_word_embeddings"]?.origin, .derived)
    }

    func testUntiedFlagWithoutAHeadIsAMissingTensor() throws {
        try TinyMamba.write(to: checkpoint, config: TinyMamba.config.replacingOccurrences(of: "\"tie_word_embeddings\":true", with: "\"tie_word_embeddings\":0"))
        assertRillError(.missingTensor) { try convert() }
        assertNothingLeft()
    }

    func testConfigSourcesAreStoredAndTheMinorVersionSaysSo() throws {
        // state_size now defaults to 16: give the tensors that shape.
        let tensors = TinyMamba.tensors().map { t -> STTensor in
            if t.name.hasSuffix("A_log") { return .f32(t.name, [64, 16], [Float](repeating: 0, count: 64 * 16)) }
            if t.name.hasSuffix("x_proj.weight") { return .f32(t.name, [34, 64], [Float](repeating: 0.01, count: 34 * 64)) }
            return t
        }
        try TinyMamba.write(to: checkpoint, tensors: tensors, config: TinyMamba.config.replacingOccurrences(of: "\"state_size\":4,", with: ""))
        _ = try convert(quant: .int8)  // (int4 stores int4k, which makes the file 2.4)
        let file = try RillFile(path: out)
        XCTAssertEqual(file.header.minor, 1)
        XCTAssertEqual(file.metadata.configSources?["state_size"], ConfigSource(.default, "state_size"))
        XCTAssertEqual(file.metadata.configSources?["hidden_size"], ConfigSource(.file, "hidden_size"))
        XCTAssertEqual(file.metadata.configSources?["intermediate_size"]?.origin, .derived)
    }

    func testMissingTokenizerIsAWarningAndAFileWithoutTokenizer() throws {
        try TinyMamba.write(to: checkpoint)
        try FileManager.default.removeItem(atPath: checkpoint + "/tokenizer.json")
        let summary = try convert()
        XCTAssertFalse(summary.hasTokenizer)
        let file = try RillFile(path: out)
        XCTAssertNil(try file.tokenizerBytes())
        XCTAssertNil(file.metadata.tokenizer)
        XCTAssertEqual(file.metadata.provenance.sourceFiles.map(\.name), ["config.json", "model.safetensors"])
    }

    func testOverridesChangeTypesByGlobAndAreRecorded() throws {
        try TinyMamba.write(to: checkpoint)
        _ = try convert(quant: .int4, overrides: [("*.x_proj.weight", .f32), ("backbone.embeddings.weight", .int4), ("*.dt_proj.weight", .int8)])
        let file = try RillFile(path: out)
        XCTAssertEqual(file.spec("backbone.layers.0.mixer.x_proj.weight")?.type, .f32)
        XCTAssertEqual(file.spec("backbone.layers.1.mixer.in_proj.weight")?.type, .int4k, "--quant int4 stores int4k")
        XCTAssertEqual(file.spec("backbone.embeddings.weight")?.type, .int4, "an override may go below the int8 floor")
        XCTAssertEqual(file.spec("backbone.layers.0.mixer.dt_proj.weight")?.type, .f32, "rows of 2 stay f32 whatever is asked")
        XCTAssertEqual(file.metadata.quantization.overrides, ["*.x_proj.weight=f32", "backbone.embeddings.weight=int4", "*.dt_proj.weight=int8"])
        XCTAssertEqual(file.header.minor, 4, "an int4k tensor makes the file 2.4")
    }

    /// |x| > 65504 has no f16 value: a finite weight must not be stored as infinity.
    func testF16ConversionNeverStoresInfinity() throws {
        var tensors = TinyMamba.tensors()
        let i = tensors.firstIndex { $0.name == "backbone.layers.0.mixer.in_proj.weight" }!
        tensors[i].data.replaceSubrange(0..<4, with: [UInt8].le(Float(1e5).bitPattern))
        try TinyMamba.write(to: checkpoint, tensors: tensors)
        do {
            _ = try convert(quant: .f16)
        } catch {
            return  // refusing the conversion is acceptable; storing infinity is not
        }
        let file = try RillFile(path: out)
        defer { withExtendedLifetime(file) {} }  // the view points into its mapping
        let view = try file.tensor("backbone.layers.0.mixer.in_proj.weight")
        var row = [Float](repeating: 0, count: view.cols)
        row.withUnsafeMutableBufferPointer { view.dequantizeRow(0, into: $0) }
        XCTAssert(row[0].isFinite, "stored \(row[0]) for 1e5")
    }
}
