import Foundation
import RillConvert
import RillFormat
import XCTest

/// The safetensors reader validates every header field against the file before use, decodes
/// F32/F16/BF16, and reads sharded checkpoints through `model.safetensors.index.json`.
final class SafetensorsTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws { dir = try makeTemporaryDirectory().path }

    func write(_ bytes: [UInt8], _ name: String = "model.safetensors") throws -> String {
        let path = dir + "/" + name
        try writeBytes(bytes, to: path)
        return path
    }

    // MARK: - Header validation

    func testWellFormedFileReadsNamesShapesAndMetadata() throws {
        let path = try write(safetensorsBytes([.f32("a", [2, 3], [1, 2, 3, 4, 5, 6]), .f32("b", [1], [7])]))
        let f = try SafetensorsFile(path: path)
        XCTAssertEqual(Set(f.tensors.keys), ["a", "b"])
        XCTAssertEqual(f.tensors["a"]?.shape, [2, 3])
        XCTAssertEqual(try f.tensors["a"]?.floats(), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(f.metadata, ["format": "pt"])
    }

    func testFileShorterThanTheLengthFieldIsTruncated() throws {
        let path = try write([1, 2, 3])
        assertRillError(.truncated, field: "header length") { try SafetensorsFile(path: path) }
    }

    func testHeaderLengthPastTheEndIsTruncated() throws {
        var bytes = safetensorsBytes([.f32("a", [1], [1])])
        bytes.setU64(UInt64(bytes.count), at: 0)
        let path = try write(bytes)
        assertRillError(.truncated, field: "header") { try SafetensorsFile(path: path) }
    }

    func testHugeHeaderLengthIsRefusedBeforeReading() throws {
        var bytes = safetensorsBytes([.f32("a", [1], [1])])
        bytes.setU64(UInt64.max, at: 0)
        let path = try write(bytes)
        assertRillError(.invalidField, field: "header length") { try SafetensorsFile(path: path) }
    }

    func testHeaderThatIsNotJSONIsRefused() throws {
        let path = try write(safetensorsBytes(header: "{\"a\": {", data: []))
        assertRillError(.badJSON, field: "header") { try SafetensorsFile(path: path) }
    }

    func testOverlappingDataOffsetsAreRefused() throws {
        let header = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#
        let path = try write(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 12)))
        guard let e = rillError({ try SafetensorsFile(path: path) }) else { return }
        XCTAssertEqual(e.kind, .invalidField)
        XCTAssertEqual(e.field, "tensor 'b'.data_offsets")
        XCTAssert(e.description.contains("overlap"), e.description)
    }

    func testShapeTimesDTypeUnequalToByteLengthIsRefused() throws {
        let header = #"{"a":{"dtype":"F16","shape":[2,3],"data_offsets":[0,24]}}"#
        let path = try write(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 24)))
        guard let e = rillError({ try SafetensorsFile(path: path) }) else { return }
        XCTAssertEqual(e.field, "tensor 'a'.data_offsets")
        XCTAssert(e.description.contains("12 bytes for F16 [2, 3]"), e.description)
    }

    func testDataOffsetsPastTheEndAreRefused() throws {
        let header = #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        let path = try write(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 12)))
        assertRillError(.invalidField, field: "tensor 'a'.data_offsets") { try SafetensorsFile(path: path) }
    }

    func testReversedDataOffsetsAreRefused() throws {
        let header = #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#
        let path = try write(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 12)))
        assertRillError(.invalidField, field: "tensor 'a'.data_offsets") { try SafetensorsFile(path: path) }
    }

    func testUnknownDTypeIsRefused() throws {
        for dtype in ["F64", "Q4_0", "f32"] {
            let header = "{\"a\":{\"dtype\":\"\(dtype)\",\"shape\":[1],\"data_offsets\":[0,8]}}"
            let path = try write(safetensorsBytes(header: header, data: [UInt8](repeating: 0, count: 8)))
            assertRillError(.invalidField, field: "tensor 'a'.dtype") { try SafetensorsFile(path: path) }
        }
    }

    func testShapeWithNegativeOrHugeDimensionsIsRefused() throws {
        for shape in ["[-1]", "[1099511627777]", "[1,1,1,1,1,1,1,1,1]", "[1099511627776,1099511627776]"] {
            let header = "{\"a\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[0,4]}}"
            let path = try write(safetensorsBytes(header: header, data: [0, 0, 0, 0]))
            assertRillError(.invalidField, field: "tensor 'a'.shape") { try SafetensorsFile(path: path) }
        }
    }

    // MARK: - Decoding

    func testBF16DecodesAsTheTopHalfOfF32() throws {
        // 1, −2, 0.15625, 3.140625 (π rounded to bf16), +∞, the smallest bf16 subnormal.
        let raw: [UInt16] = [0x3F80, 0xC000, 0x3E20, 0x4049, 0x7F80, 0x0001]
        let path = try write(safetensorsBytes([STTensor(name: "a", dtype: "BF16", shape: [6], data: raw.flatMap { [UInt8].le($0) })]))
        let f = try SafetensorsFile(path: path)
        let v = try withExtendedLifetime(f) { try f.tensors["a"]!.floats() }  // bytes point into its mapping
        XCTAssertEqual(v, [1, -2, 0.15625, 3.140625, .infinity, Float(bitPattern: 0x0001_0000)])
    }

    func testF16DecodesIncludingSubnormalsAndLimits() throws {
        // 1, −2, 65504 (largest), 2^−24 (smallest subnormal), 0x3555 ≈ 1/3, −0.
        let raw: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3555, 0x8000]
        let path = try write(safetensorsBytes([STTensor(name: "a", dtype: "F16", shape: [2, 3], data: raw.flatMap { [UInt8].le($0) })]))
        let f = try SafetensorsFile(path: path)
        let v = try withExtendedLifetime(f) { try f.tensors["a"]!.floats() }  // bytes point into its mapping
        XCTAssertEqual(v, [1, -2, 65504, 0x1p-24, 0.333251953125, 0])
        XCTAssertEqual(v[5].sign, .minus)
    }

    func testIntegerTensorsAreNotFloats() throws {
        let path = try write(safetensorsBytes([
            STTensor(name: "i", dtype: "I64", shape: [2], data: [UInt8].le(Int64(-3)) + [UInt8].le(Int64(1 << 40))),
            STTensor(name: "j", dtype: "I32", shape: [1], data: [UInt8].le(Int32(7))),
        ]))
        let f = try SafetensorsFile(path: path)
        assertRillError(.invalidField, field: "tensor 'i'.dtype") { try f.tensors["i"]!.floats() }
        XCTAssertEqual(try f.tensors["j"]!.int32s(), [7])
        assertRillError(.invalidField, field: "tensor 'i'[1]") { try f.tensors["i"]!.int32s() }
    }

    // MARK: - Sharded checkpoints

    /// Splits a checkpoint's `model.safetensors` into two shards plus an index in `dest`.
    func shard(_ source: String, into dest: String) throws {
        try copyFolder(source, to: dest)
        let tensors = try readSafetensors(dest + "/model.safetensors")
        try FileManager.default.removeItem(atPath: dest + "/model.safetensors")
        let half = tensors.count / 2
        let shards = [("model-00001-of-00002.safetensors", Array(tensors[..<half])), ("model-00002-of-00002.safetensors", Array(tensors[half...]))]
        var map: [String] = []
        for (name, part) in shards {
            try writeBytes(safetensorsBytes(part), to: dest + "/" + name)
            map += part.map { "\"\($0.name)\":\"\(name)\"" }
        }
        let index = "{\"metadata\":{\"total_size\":0},\"weight_map\":{\(map.joined(separator: ","))}}"
        try writeBytes(Array(index.utf8), to: dest + "/model.safetensors.index.json")
    }

    /// The fixture split in two (or the tiny synthetic checkpoint when the fixture is absent).
    func shardedSource() throws -> (single: String, sharded: String) {
        var single = Fixtures.folder("mamba-tiny") ?? ""
        if single.isEmpty {
            single = dir + "/single"
            try TinyMamba.write(to: single)
        }
        try shard(single, into: dir + "/sharded")
        return (single, dir + "/sharded")
    }

    func testShardedCheckpointReadsTheSameTensors() throws {
        let (single, sharded) = try shardedSource()
        let a = try SafetensorsCheckpoint(directory: single), b = try SafetensorsCheckpoint(directory: sharded)
        XCTAssertEqual(b.files.count, 2)
        XCTAssertEqual(a.names, b.names)
        for name in a.names {
            XCTAssertEqual(a.tensor(name)!.shape, b.tensor(name)!.shape, name)
            XCTAssert(Array(a.tensor(name)!.bytes) == Array(b.tensor(name)!.bytes), name)
        }
    }

    func testShardedCheckpointConvertsToTheSameTensors() throws {
        let (single, sharded) = try shardedSource()
        let out1 = dir + "/single.rill", out2 = dir + "/sharded.rill"
        _ = try Converter.convert(directory: single, output: out1, options: ConvertOptions(quant: .int4), tokenizerCheck: fixtureTokenizerCheck)
        _ = try Converter.convert(directory: sharded, output: out2, options: ConvertOptions(quant: .int4), tokenizerCheck: fixtureTokenizerCheck)
        let a = try RillFile(path: out1), b = try RillFile(path: out2)
        XCTAssertEqual(a.tensors.map(\.name), b.tensors.map(\.name))
        XCTAssertEqual(a.tensors.map(\.xxh64), b.tensors.map(\.xxh64))
        XCTAssertEqual(b.metadata.provenance.sourceFiles.map(\.name),
                       ["config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "tokenizer.json"])
    }

    func testIndexNamingAMissingShardIsAnIOError() throws {
        let (_, sharded) = try shardedSource()
        try FileManager.default.removeItem(atPath: sharded + "/model-00002-of-00002.safetensors")
        assertRillError(.io) { try SafetensorsCheckpoint(directory: sharded) }
    }

    func testIndexNamingTheWrongShardIsRefused() throws {
        let (_, sharded) = try shardedSource()
        let indexPath = sharded + "/model.safetensors.index.json"
        var index = try JSONSerialization.jsonObject(with: Data(try readBytes(indexPath))) as! [String: Any]
        var map = index["weight_map"] as! [String: String]
        let name = map.keys.sorted()[0]
        map[name] = map[name] == "model-00001-of-00002.safetensors" ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors"
        index["weight_map"] = map
        try JSONSerialization.data(withJSONObject: index).write(to: URL(fileURLWithPath: indexPath))
        assertRillError(.invalidField, field: "weight_map.\(name)") { try SafetensorsCheckpoint(directory: sharded) }
    }

    func testIndexNamingAFileOutsideTheFolderIsRefused() throws {
        let (_, sharded) = try shardedSource()
        try writeBytes(Array(#"{"weight_map":{"a":"../model.safetensors"}}"#.utf8), to: sharded + "/model.safetensors.index.json")
        assertRillError(.invalidField, field: "weight_map") { try SafetensorsCheckpoint(directory: sharded) }
    }

    func testIndexThatIsNotJSONIsRefused() throws {
        let (_, sharded) = try shardedSource()
        try writeBytes(Array(#"{"weight_map": ["#.utf8), to: sharded + "/model.safetensors.index.json")
        assertRillError(.badJSON, field: "weight_map") { try SafetensorsCheckpoint(directory: sharded) }
    }
}
