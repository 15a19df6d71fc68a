import XCTest
@testable import RillTokenizer

/// Every fixture string encodes to the Python library's ids and decodes to its text, for each
/// tokenizer kind (see `Tools/tokenizer_fixtures.py`).
final class CheckpointTokenizerGoldenTests: XCTestCase {
    /// Ids, decode, and decode skipping special tokens for all cases of `kind`; prints the rate.
    private func checkGolden(_ kind: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let fixture = try CheckpointFixture.cases(kind)
        let tok = try CheckpointFixture.tokenizer(kind)
        var idMatches = 0, decodeMatches = 0, total = 0
        for c in fixture.cases {
            total += 1
            let ids = tok.encode(c.text)
            if ids == c.ids { idMatches += 1 } else if total - idMatches <= 5 {
                XCTFail("\(kind): ids of \(String(reflecting: c.text)): \(ids) != \(c.ids)", file: file, line: line)
            }
            var decoded = tok.decode(c.ids)
            if let skipping = c.decoded_skipping_special, skipping != tok.decode(c.ids, skippingSpecialTokens: true) {
                decoded = "(skipping special differs)"
            }
            if decoded == c.decoded { decodeMatches += 1 } else if total - decodeMatches <= 5 {
                XCTFail("\(kind): decode of \(c.ids): \(String(reflecting: decoded)) != \(String(reflecting: c.decoded))", file: file, line: line)
            }
        }
        print("golden \(kind): ids \(idMatches)/\(total), decode \(decodeMatches)/\(total)")
    }

    func testByteLevelBPEMatchesTokenizers() throws { try checkGolden("byte-level-bpe") }
    /// LLaMA-2 layout: normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer, byte fallback.
    func testLlamaLegacyBPEMatchesTokenizers() throws { try checkGolden("llama-legacy-bpe") }
    /// transformers 5 conversion: Metaspace(prepend_scheme first, split false).
    func testLlamaMetaspaceBPEMatchesTokenizers() throws { try checkGolden("llama-metaspace-bpe") }
    /// Metaspace(split true) and the Metaspace decoder, trained by `tokenizers`.
    func testMetaspaceSplitBPEMatchesTokenizers() throws { try checkGolden("metaspace-split-bpe") }
    func testSentencePieceBPEMatchesSentencePiece() throws { try checkGolden("sentencepiece-bpe") }
    /// Custom precompiled charsmap, remove_extra_whitespaces, unknowns merged (no byte fallback).
    func testSentencePieceUnigramMatchesSentencePiece() throws { try checkGolden("sentencepiece-unigram") }

    /// Byte-level: ids of single byte tokens for bytes that are not UTF-8 decode as `tokenizers`
    /// decodes them (U+FFFD per maximal invalid subsequence).
    func testByteLevelInvalidUTF8DecodesAsTokenizers() throws {
        let fixture = try CheckpointFixture.cases("byte-level-bpe")
        let tok = try CheckpointFixture.tokenizer("byte-level-bpe")
        let cases = try XCTUnwrap(fixture.byte_decode_cases)
        XCTAssertGreaterThan(cases.count, 40)
        for c in cases {
            XCTAssertEqual(tok.decode(c.ids), c.decoded, "bytes \(c.bytes_hex ?? "")")
        }
    }

    /// Byte-fallback tokens of valid UTF-8 (one character split over 2–4 ids) decode as the libraries do.
    func testByteFallbackRunsDecodeAsLibraries() throws {
        for kind in ["llama-legacy-bpe", "llama-metaspace-bpe", "metaspace-split-bpe", "sentencepiece-bpe"] {
            let fixture = try CheckpointFixture.cases(kind)
            let tok = try CheckpointFixture.tokenizer(kind)
            for c in try XCTUnwrap(fixture.byte_fallback_decode_cases) {
                XCTAssertEqual(tok.decode(c.ids), c.decoded, "\(kind) \(c.ids)")
            }
        }
    }

    /// The loader picks the kind from the file, and names it for `TokenizerInfo.model`.
    func testLoaderPicksTheKind() throws {
        let expected = ["byte-level-bpe": "BPE (byte-level)", "llama-legacy-bpe": "BPE (metaspace, byte fallback)",
                        "llama-metaspace-bpe": "BPE (metaspace, byte fallback)", "metaspace-split-bpe": "BPE (metaspace, byte fallback)",
                        "sentencepiece-bpe": "SentencePiece BPE", "sentencepiece-unigram": "SentencePiece unigram"]
        for kind in CheckpointFixture.kinds {
            XCTAssertEqual(tokenizerModelName(try CheckpointFixture.tokenizer(kind)), expected[kind], kind)
        }
        XCTAssertThrowsError(try loadTokenizer(format: "tiktoken", bytes: [])) {
            XCTAssertEqual($0 as? TokenizerError, .unknownFormat("tiktoken"))
        }
        XCTAssertEqual(TokenizerFormat(fileName: "a/b/tokenizer.model"), .sentencePieceModel)
        XCTAssertEqual(TokenizerFormat(fileName: "tokenizer.json"), .hfTokenizerJSON)
        XCTAssertNil(TokenizerFormat(fileName: "vocab.txt"))
    }

    /// BOS/EOS ids come from the model (SentencePiece) or the special tokens (tokenizer.json).
    func testBOSAndEOS() throws {
        for kind in CheckpointFixture.kinds where kind != "byte-level-bpe" {
            let tok = try CheckpointFixture.tokenizer(kind)
            XCTAssertEqual(tok.bosTokenID, tok.id(forToken: "<s>"), kind)
            XCTAssertEqual(tok.eosTokenID, tok.id(forToken: "</s>"), kind)
            XCTAssertNotNil(tok.bosTokenID, kind)
        }
    }
}
