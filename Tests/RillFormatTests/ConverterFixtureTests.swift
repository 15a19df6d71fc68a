import Foundation
import RillConvert
import RillFormat
import XCTest

/// The tokenizer check the tests pass to `Converter.convert`: the CLI's contract (a summary of
/// a Hugging Face `tokenizer.json`) without the CLI.
func fixtureTokenizerCheck(_ bytes: [UInt8], _ path: String) throws -> TokenizerInfo {
    let json = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
    let model = json?["model"] as? [String: Any]
    return TokenizerInfo(
        format: "hf-tokenizer-json", model: model?["type"] as? String ?? "BPE",
        vocabSize: (model?["vocab"] as? [String: Any])?.count ?? 0)
}

/// Conversions of the fixtures in `Tests/Fixtures`, made once per test run and shared.
final class FixtureConversions: @unchecked Sendable {
    static let shared = FixtureConversions()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rill-format-fixtures-\(UUID().uuidString)")
    private var done: [String: (String, ConvertSummary)] = [:]
    private let lock = NSLock()

    /// The converted file of fixture `name` at `quant`, or nil when the fixture is absent.
    func convert(_ name: String, _ quant: QuantType) throws -> (path: String, summary: ConvertSummary)? {
        guard let source = Fixtures.folder(name) else { return nil }
        lock.lock()
        defer { lock.unlock() }
        let key = "\(name)-\(quant)"
        if let d = done[key] { return d }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let out = directory.appendingPathComponent(key + ".rill").path
        let summary = try Converter.convert(
            directory: source, output: out, options: ConvertOptions(quant: quant), tokenizerCheck: fixtureTokenizerCheck)
        done[key] = (out, summary)
        return (out, summary)
    }

    func removeAll() {
        lock.lock()
        defer { lock.unlock() }
        try? FileManager.default.removeItem(at: directory)
        done = [:]
    }
}

/// Each fixture folder present converts at every `--quant`, opens, verifies, carries its
/// tokenizer and provenance, follows the default policy and shrinks as promised.
final class ConverterFixtureTests: XCTestCase {
    static let fixtures = ["mamba-tiny", "transnormer-tiny", "samba-tiny"]

    override class func tearDown() {
        FixtureConversions.shared.removeAll()
        super.tearDown()
    }

    /// Runs `body` for each present fixture at each quantisation.
    func forEachConversion(_ body: (String, QuantType, RillFile, ConvertSummary) throws -> Void) throws {
        var any = false
        for name in Self.fixtures {
            for q in QuantType.allCases {
                guard let (path, summary) = try FixtureConversions.shared.convert(name, q) else { continue }
                any = true
                try body(name, q, try RillFile(path: path), summary)
            }
        }
        if !any { throw XCTSkip("no fixture folders in \(Fixtures.root.path)") }
    }

    func testEveryFixtureConvertsAndVerifiesAtEveryQuantisation() throws {
        try forEachConversion { name, q, file, summary in
            XCTAssert(file.verify().isEmpty, "\(name) \(q)")
            XCTAssertEqual(file.metadata.quantization, QuantizationInfo(requested: q.description, overrides: []))
            XCTAssertEqual(file.metadata.config.architecture, String(name.prefix { $0 != "-" }))
            XCTAssertEqual(summary.fileBytes, Int(file.header.fileSize))
            XCTAssertEqual(summary.tensors.map(\.name), file.tensors.map(\.name))
            XCTAssertEqual(summary.tensors.map(\.type), file.tensors.map(\.type))
        }
    }

    func testTokenizerIsCarriedVerbatim() throws {
        try forEachConversion { name, q, file, _ in
            let path = Fixtures.folder(name)! + "/tokenizer.json"
            guard FileManager.default.fileExists(atPath: path) else {
                XCTAssertNil(try file.tokenizerBytes(), "\(name) has no tokenizer.json")
                return
            }
            XCTAssertEqual(try file.tokenizerBytes(), try readBytes(path), "\(name) \(q)")
            XCTAssertEqual(file.metadata.tokenizer?.format, "hf-tokenizer-json")
        }
    }

    func testProvenanceListsSourceFilesWithTheirChecksums() throws {
        try forEachConversion { name, _, file, _ in
            let p = file.metadata.provenance
            XCTAssertEqual(p.converter, Converter.version)
            XCTAssertEqual(p.sourceFiles.map(\.name), try Self.sourceFileNames(Fixtures.folder(name)!))
            for f in p.sourceFiles {
                let bytes = try readBytes(Fixtures.folder(name)! + "/" + f.name)
                XCTAssertEqual(f.bytes, bytes.count, f.name)
                XCTAssertEqual(f.xxh64, hex(xxh64(bytes)), f.name)
            }
        }
    }

    /// config.json, the safetensors file or shards, tokenizer.json when present: what the
    /// converter reads, in that order.
    static func sourceFileNames(_ folder: String) throws -> [String] {
        var names = ["config.json"]
        let index = folder + "/model.safetensors.index.json"
        if FileManager.default.fileExists(atPath: index) {
            let json = try JSONSerialization.jsonObject(with: Data(try readBytes(index))) as? [String: Any]
            names += Set((json?["weight_map"] as? [String: String] ?? [:]).values).sorted()
        } else {
            names.append("model.safetensors")
        }
        if FileManager.default.fileExists(atPath: folder + "/tokenizer.json") { names.append("tokenizer.json") }
        return names
    }

    func testInt4FileIsAtMost35PercentAndInt8AtMost60PercentOfF32() throws {
        var checked = false
        for name in Self.fixtures {
            guard let f32 = try FixtureConversions.shared.convert(name, .f32),
                let i8 = try FixtureConversions.shared.convert(name, .int8),
                let i4 = try FixtureConversions.shared.convert(name, .int4)
            else { continue }
            checked = true
            let full = Double(f32.summary.fileBytes)
            XCTAssertLessThanOrEqual(Double(i4.summary.fileBytes) / full, 0.35, name)
            XCTAssertLessThanOrEqual(Double(i8.summary.fileBytes) / full, 0.60, name)
        }
        if !checked { throw XCTSkip("no fixture folders") }
    }

    /// Projections in the requested type, embedding, head and the first block's input projection
    /// at least int8, the rest f32.
    func testDefaultPolicyIsApplied() throws {
        try forEachConversion { name, q, file, _ in
            let atLeast8: QuantType = q == .int4 || q == .int4k ? .int8 : q
            let projection: QuantType = q == .int4 ? .int4k : q  // `--quant int4` stores int4k (format 2.4)
            for t in file.tensors {
                let isEmbeddingOrHead = t.name.hasSuffix("embeddings.weight") || t.name.hasSuffix("embed_tokens.weight")
                    || t.name == "lm_head.weight"
                let isProjection = t.shape.count == 2
                    && ["_proj.weight", ".l1.weight", ".l2.weight", ".l3.weight"].contains(where: t.name.hasSuffix)
                // The sensitive projections (the first block's input, Mamba's dt_proj) are at least int8 too (§7).
                let isSensitive = ["backbone.layers.0.mixer.in_proj.weight", "model.layers.0.token_mixer.qkvu_proj.weight",
                                   "layers.0.attn.qkv.weight", "backbone.layers.0.mixer.q_proj.weight",
                                   "backbone.layers.0.mixer.k_proj.weight", "backbone.layers.0.mixer.v_proj.weight"].contains(t.name)
                    || t.name.hasSuffix("mixer.dt_proj.weight")
                var expected: QuantType = isEmbeddingOrHead || isSensitive ? atLeast8 : isProjection ? projection : .f32
                if expected.isBlockQuantised, t.shape[t.shape.count - 1] < 32 { expected = .f32 }  // rows shorter than a block
                XCTAssertEqual(t.type, expected, "\(name) \(q): \(t.name) \(t.shape)")
            }
        }
    }

    func testF32ConversionCopiesWeightsBitForBit() throws {
        for name in Self.fixtures {
            guard let (path, _) = try FixtureConversions.shared.convert(name, .f32) else { continue }
            let file = try RillFile(path: path)
            defer { withExtendedLifetime(file) {} }  // views point into its mapping
            let source = try SafetensorsCheckpoint(directory: Fixtures.folder(name)!)
            defer { withExtendedLifetime(source) {} }
            var compared = 0
            for spec in file.tensors {
                guard let src = source.tensor(spec.name), src.shape == spec.shape else { continue }
                let view = try file.tensor(spec.name)
                if src.dtype == .f32 {
                    XCTAssert(
                        Array(UnsafeRawBufferPointer(start: view.base, count: Int(spec.length))) == Array(src.bytes), spec.name)
                } else {  // F16/BF16 sources widen exactly to f32
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: view.f32, count: spec.elementCount)), try src.floats(), spec.name)
                }
                compared += 1
            }
            XCTAssertGreaterThan(compared, 5, name)
        }
    }

    // MARK: - Mamba

    func testMambaTinyTensorsAreNamedAndShapedAsSpecified() throws {
        guard let (path, _) = try FixtureConversions.shared.convert("mamba-tiny", .int4) else { throw XCTSkip("no mamba-tiny") }
        let file = try RillFile(path: path)
        defer { withExtendedLifetime(file) {} }  // views point into its mapping
        guard case let .mamba(c) = file.metadata.config else { return XCTFail("not mamba") }
        let d = c.hiddenSize, e = c.intermediateSize, n = c.stateSize, r = c.timeStepRank, k = c.convKernel
        var expected: [(String, [Int])] = [("backbone.embeddings.weight", [c.vocabSize, d])]
        for i in 0..<c.numLayers {
            let p = "backbone.layers.\(i)."
            expected += [
                (p + "norm.weight", [d]), (p + "mixer.in_proj.weight", [2 * e, d]), (p + "mixer.conv1d.weight", [e, k]),
                (p + "mixer.conv1d.bias", [e]), (p + "mixer.x_proj.weight", [r + 2 * n, e]), (p + "mixer.dt_proj.weight", [e, r]),
                (p + "mixer.dt_proj.bias", [e]), (p + "mixer.A", [e, n]), (p + "mixer.D", [e]), (p + "mixer.out_proj.weight", [d, e]),
            ]
        }
        expected.append(("backbone.norm_f.weight", [d]))
        XCTAssertEqual(file.tensors.map(\.name), expected.map(\.0))
        XCTAssertEqual(file.tensors.map(\.shape), expected.map(\.1))
        XCTAssertNil(file.spec("lm_head.weight"), "a tied head is not stored")
    }

    func testMambaAIsMinusExpOfALog() throws {
        guard let (path, _) = try FixtureConversions.shared.convert("mamba-tiny", .int8) else { throw XCTSkip("no mamba-tiny") }
        let file = try RillFile(path: path)
        defer { withExtendedLifetime(file) {} }  // views point into its mapping
        let source = try SafetensorsCheckpoint(directory: Fixtures.folder("mamba-tiny")!)
        defer { withExtendedLifetime(source) {} }
        let aLog = try source.tensor("backbone.layers.1.mixer.A_log")!.floats()
        let a = try file.tensor("backbone.layers.1.mixer.A", shape: [256, 16], types: [.f32])
        for i in 0..<aLog.count {
            XCTAssertEqual(a.f32[i], -Float(exp(Double(aLog[i]))))
        }
    }

    func testMambaConvWeightIsReshapedNotReordered() throws {
        guard let (path, _) = try FixtureConversions.shared.convert("mamba-tiny", .int4) else { throw XCTSkip("no mamba-tiny") }
        let file = try RillFile(path: path)
        defer { withExtendedLifetime(file) {} }  // views point into its mapping
        let source = try SafetensorsCheckpoint(directory: Fixtures.folder("mamba-tiny")!)
        defer { withExtendedLifetime(source) {} }
        let src = try source.tensor("backbone.layers.0.mixer.conv1d.weight", shape: [256, 1, 4]).floats()
        let conv = try file.tensor("backbone.layers.0.mixer.conv1d.weight", shape: [256, 4], types: [.f32])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: conv.f32, count: 1024)), src)
    }

    // MARK: - TransNormerLLM

    func testTransNormerTinyTensorsAreNamedAndShapedAsSpecified() throws {
        guard let (path, _) = try FixtureConversions.shared.convert("transnormer-tiny", .int4) else { throw XCTSkip("no transnormer-tiny") }
        let file = try RillFile(path: path)
        defer { withExtendedLifetime(file) {} }  // views point into its mapping
        guard case let .transnormer(c) = file.metadata.config else { return XCTFail("not transnormer") }
        let d = c.embedDim, h = c.hiddenDim, g = c.gluDim, H = c.numHeads
        var expected: [(String, [Int])] = [("model.embed_tokens.weight", [c.vocabSize, d])]
        for i in 0..<c.numLayers {
            let p = "model.layers.\(i)."
            expected += [
                (p + "token_mixer.qkvu_proj.weight", [4 * h, d]), (p + "token_mixer.out_proj.weight", [d, h]),
                (p + "channel_mixer.l1.weight", [g, d]), (p + "channel_mixer.l2.weight", [g, d]),
                (p + "channel_mixer.l3.weight", [d, g]),
            ]
            if c.lrpeLayers[i] { expected.append((p + "token_mixer.lrpe.theta", [H, d / H])) }
            expected.append((p + "token_mixer.slope", [H]))
        }
        if !c.tieWordEmbeddings { expected.append(("lm_head.weight", [c.vocabSize, d])) }
        XCTAssertEqual(file.tensors.map(\.name), expected.map(\.0))
        XCTAssertEqual(file.tensors.map(\.shape), expected.map(\.1))
    }

    /// The fixture README: 4 heads → slopes 1/4, 1/16, 1/64, 1/256, scaled in layer l of L by
    /// 1 − l/(L−1) + 1e−5 (in float32, as the reference computes it).
    func testTransNormerSlopesAreScaledPerLayer() throws {
        guard let (path, _) = try FixtureConversions.shared.convert("transnormer-tiny", .int8) else { throw XCTSkip("no transnormer-tiny") }
        let file = try RillFile(path: path)
        defer { withExtendedLifetime(file) {} }  // views point into its mapping
        let base: [Float] = [0.25, 0.0625, 0.015625, 0.00390625]
        for l in 0..<4 {
            let s = try file.tensor("model.layers.\(l).token_mixer.slope", shape: [4], types: [.f32])
            let scale = Float(1 - Double(l) / 3 + 1e-5)
            XCTAssertEqual(Array(UnsafeBufferPointer(start: s.f32, count: 4)), base.map { $0 * scale }, "layer \(l)")
        }
    }

    func testTransNormerLRPEThetaDropsItsMiddleAxis() throws {
        guard let (path, _) = try FixtureConversions.shared.convert("transnormer-tiny", .int4) else { throw XCTSkip("no transnormer-tiny") }
        let file = try RillFile(path: path)
        defer { withExtendedLifetime(file) {} }  // views point into its mapping
        let source = try SafetensorsCheckpoint(directory: Fixtures.folder("transnormer-tiny")!)
        defer { withExtendedLifetime(source) {} }
        let src = try source.tensor("model.layers.0.token_mixer.lrpe.theta", shape: [4, 1, 32]).floats()
        let theta = try file.tensor("model.layers.0.token_mixer.lrpe.theta", shape: [4, 32], types: [.f32])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: theta.f32, count: 128)), src)
    }

    // MARK: - SAMBA

    /// fla's `SambaForCausalLM` names are kept as they are (A_log → A and the conv reshape as
    /// in Mamba).
    func testSambaTinyKeepsFlaNames() throws {
        guard let (path, _) = try FixtureConversions.shared.convert("samba-tiny", .int4) else { throw XCTSkip("no samba-tiny") }
        let file = try RillFile(path: path)
        defer { withExtendedLifetime(file) {} }  // views point into its mapping
        let source = try SafetensorsCheckpoint(directory: Fixtures.folder("samba-tiny")!)
        defer { withExtendedLifetime(source) {} }
        for t in file.tensors {
            let sourceName = t.name.hasSuffix(".mixer.A") ? t.name + "_log" : t.name
            XCTAssertNotNil(source.tensor(sourceName), "\(t.name) is not a checkpoint name")
        }
    }
}
