import Foundation
@testable import RillTokenizer

/// The fixtures under `Tests/Fixtures/tokenizers/<kind>/` written by `Tools/tokenizer_fixtures.py`:
/// a tokenizer file and `cases.json` with the ids and decoded text of the Python libraries.
enum CheckpointFixture {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizers")

    /// Every fixture kind, one folder each.
    static let kinds = ["byte-level-bpe", "llama-legacy-bpe", "llama-metaspace-bpe", "metaspace-split-bpe",
                        "sentencepiece-bpe", "sentencepiece-unigram"]

    struct Case: Decodable {
        var text: String
        var ids: [Int32]
        var decoded: String
        var decoded_skipping_special: String?
    }

    struct IDsCase: Decodable {
        var ids: [Int32]
        var decoded: String
        var bytes_hex: String?
    }

    struct File: Decodable {
        var format: String
        var cases: [Case]
        var byte_decode_cases: [IDsCase]?
        var byte_fallback_decode_cases: [IDsCase]?
    }

    static func cases(_ kind: String) throws -> File {
        try JSONDecoder().decode(File.self, from: Data(contentsOf: root.appendingPathComponent(kind + "/cases.json")))
    }

    /// The tokenizer file's name for a format.
    static func fileName(_ format: String) -> String {
        format == TokenizerFormat.sentencePieceModel.rawValue ? "tokenizer.model" : "tokenizer.json"
    }

    static func fileBytes(_ kind: String) throws -> (format: String, bytes: [UInt8]) {
        let format = try cases(kind).format
        return (format, [UInt8](try Data(contentsOf: root.appendingPathComponent(kind + "/" + fileName(format)))))
    }

    static func tokenizer(_ kind: String) throws -> any Tokenizer {
        let (format, bytes) = try fileBytes(kind)
        return try loadTokenizer(format: format, bytes: bytes)
    }
}
