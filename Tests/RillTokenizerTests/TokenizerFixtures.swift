import Foundation
import XCTest
@testable import RillTokenizer

/// Files under `Tests/Fixtures/mamba-tiny`, found from this file's path (no bundle resources).
enum MambaTinyFixture {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mamba-tiny")

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// The fixture's `tokenizer.json` as a JSON object, for tests that edit it.
    static func tokenizerObject() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(bytes("tokenizer.json"))) as! [String: Any]
    }

    /// The fixture tokenizer, loaded once.
    static let tokenizer: ByteLevelBPETokenizer = {
        try! ByteLevelBPETokenizer(tokenizerJSON: bytes("tokenizer.json"))
    }()

    /// `golden.json`'s `prompts`.
    static func prompts() throws -> [String] {
        struct Golden: Decodable { var prompts: [String] }
        return try JSONDecoder().decode(Golden.self, from: Data(bytes("golden.json"))).prompts
    }
}

/// Serialises an edited tokenizer object back to bytes.
func jsonBytes(_ object: Any) throws -> [UInt8] {
    [UInt8](try JSONSerialization.data(withJSONObject: object))
}

/// Applies `edit` to the fixture's tokenizer.json and returns the bytes.
func editedFixture(_ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
    var object = try MambaTinyFixture.tokenizerObject()
    edit(&object)
    return try jsonBytes(object)
}

/// Edits a nested object of `root` at `key`.
func editObject(_ root: inout [String: Any], _ key: String, _ edit: (inout [String: Any]) -> Void) {
    var inner = root[key] as? [String: Any] ?? [:]
    edit(&inner)
    root[key] = inner
}

/// Reads an I32 tensor from a safetensors file: an 8-byte little-endian header length, a JSON
/// header `{name: {dtype, shape, data_offsets: [begin, end]}}`, then the data.
func safetensorsInt32(_ file: [UInt8], name: String, file path: StaticString = #filePath, line: UInt = #line) throws -> [Int32] {
    struct Entry: Decodable {
        var dtype: String
        var shape: [Int]
        var data_offsets: [Int]
    }
    let headerLength = file[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
    let header = Data(file[8..<(8 + headerLength)])
    let object = try JSONSerialization.jsonObject(with: header) as! [String: Any]
    let entryData = try JSONSerialization.data(withJSONObject: try XCTUnwrap(object[name], "no tensor \(name)", file: path, line: line))
    let entry = try JSONDecoder().decode(Entry.self, from: entryData)
    XCTAssertEqual(entry.dtype, "I32", file: path, line: line)
    let begin = 8 + headerLength + entry.data_offsets[0]
    let end = 8 + headerLength + entry.data_offsets[1]
    XCTAssertEqual((end - begin) / 4, entry.shape.reduce(1, *), file: path, line: line)
    return stride(from: begin, to: end, by: 4).map { (i: Int) -> Int32 in
        Int32(bitPattern: UInt32(file[i]) | UInt32(file[i + 1]) << 8 | UInt32(file[i + 2]) << 16 | UInt32(file[i + 3]) << 24)
    }
}

/// A tiny byte-level BPE tokenizer.json: vocab a b c ab abc [UNK] Ġ, one merge `a b`;
/// `model` fields are overridden by `modelOverrides`.
func tinyTokenizerJSON(_ modelOverrides: [String: Any] = [:]) throws -> [UInt8] {
    var model: [String: Any] = [
        "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "fuse_unk": false,
        "byte_fallback": false, "ignore_merges": false,
        "vocab": ["a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4, "[UNK]": 5, "Ġ": 6],
        "merges": [["a", "b"]],
    ]
    for (k, v) in modelOverrides { model[k] = v }
    let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
    return try jsonBytes([
        "version": "1.0", "added_tokens": [], "normalizer": NSNull(),
        "pre_tokenizer": byteLevel, "post_processor": NSNull(), "decoder": byteLevel, "model": model,
    ] as [String: Any])
}
