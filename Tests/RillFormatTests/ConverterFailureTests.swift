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
        try TinyMamba.write(to: checkpoint, config: #"{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":32}"#)
        guard let e = rillError({ try convert() }) else { return }
        guard case let .unsupportedArchitecture(path, found, supported) = e else { return XCTFail("\(e)") }
        XCTAssertEqual(path, checkpoint + "/config.json")
        XCTAssertEqual(found, "LlamaForCausalLM")
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

    func testConfigMissingARequiredFieldLeavesNothing() throws {
        try TinyMamba.write(to: checkpoint, config: TinyMamba.config.replacingOccurrences(of: "\"hidden_size\"", with: "\"hidden\""))
        guard let e = rillError({ try convert() }) else { return }
        XCTAssertEqual(e.kind, .badJSON)
        XCTAssert(e.description.contains("hidden_size"), e.description)
        assertNothingLeft()
    }

    func testConfigOutOfRangeLeavesNothing() throws {
        try TinyMamba.write(to: checkpoint, config: TinyMamba.config.replacingOccurrences(of: "\"state_size\":4", with: "\"state_size\":0"))
        assertRillError(.invalidField, field: "config.state_size") { try convert() }
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
        XCTAssertEqual(file.spec("backbone.layers.1.mixer.in_proj.weight")?.type, .int4)
        XCTAssertEqual(file.spec("backbone.embeddings.weight")?.type, .int4, "an override may go below the int8 floor")
        XCTAssertEqual(file.spec("backbone.layers.0.mixer.dt_proj.weight")?.type, .f32, "rows of 2 stay f32 whatever is asked")
        XCTAssertEqual(file.metadata.quantization.overrides, ["*.x_proj.weight=f32", "backbone.embeddings.weight=int4", "*.dt_proj.weight=int8"])
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
