import XCTest
@testable import RillTokenizer

/// The tokenizer.json options besides the fixture's defaults. Expected ids come from
/// tokenizers 0.23.3 run on the same edited JSON.
final class TokenizerOptionTests: XCTestCase {
    private func load(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> ByteLevelBPETokenizer {
        try ByteLevelBPETokenizer(tokenizerJSON: bytes)
    }

    /// Older files spell merges as `"a b"` strings; both forms give the same tokenizer.
    func testLegacyStringMergesEncodeTheSame() throws {
        let bytes = try editedFixture { root in
            editObject(&root, "model") { model in
                model["merges"] = (model["merges"] as! [[String]]).map { $0.joined(separator: " ") }
            }
        }
        let legacy = try load(bytes)
        for prompt in try MambaTinyFixture.prompts() {
            XCTAssertEqual(legacy.encode(prompt), MambaTinyFixture.tokenizer.encode(prompt))
        }
    }

    /// Added tokens: `normalized` ones match after normalisation, the longest match wins,
    /// `single_word` refuses matches inside words, `lstrip`/`rstrip` swallow adjacent spaces,
    /// and decoding passes content through the byte map when every character is in it
    /// (so `héllo`'s `é` is byte 0xE9, invalid UTF-8, exactly as in `tokenizers`).
    func testAddedTokenOptions() throws {
        let bytes = try editedFixture { root in
            root["added_tokens"] = (root["added_tokens"] as! [Any]) + [
                ["id": 2048, "content": "  ", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false],
                ["id": 2049, "content": "héllo", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true],
                ["id": 2050, "content": "<m>", "single_word": true, "lstrip": true, "rstrip": true, "normalized": false, "special": false],
            ]
        }
        let tokenizer = try load(bytes)
        XCTAssertEqual(tokenizer.vocabSize, 2051)
        XCTAssertEqual(tokenizer.encode("a   b"), [65, 2048, 271])
        XCTAssertEqual(tokenizer.encode("xhélloy"), [88, 2049, 89])
        XCTAssertEqual(tokenizer.encode("a <m> b"), [65, 2050, 66])
        XCTAssertEqual(tokenizer.encode("a<m>b"), [65, 28, 77, 30, 66])
        XCTAssertEqual(tokenizer.encode(" <m>"), [2050])
        XCTAssertEqual(tokenizer.encode("<m>  <m>"), [2050, 2050])
        XCTAssertEqual(tokenizer.decode([2048, 2049, 65]), "  h\u{FFFD}lloa")
        XCTAssertEqual(tokenizer.specialTokens.map(\.id), [0, 2049])
    }

    /// `add_prefix_space` adds a space to each text piece, also after an added token.
    func testAddPrefixSpace() throws {
        let tokenizer = try load(try editedFixture { root in
            editObject(&root, "pre_tokenizer") { $0["add_prefix_space"] = true }
        })
        XCTAssertEqual(tokenizer.encode("hi<|endoftext|>there"), [263, 73, 0, 380])
        XCTAssertEqual(tokenizer.encode(" hi"), [263, 73])
        XCTAssertEqual(tokenizer.encode("hello world"), [309, 276, 79, 1175])
        XCTAssertEqual(tokenizer.encode(""), [])
    }

    /// The NFC normalizer (GPT-NeoX's) composes `e` + U+0301 into `é` before tokenising.
    func testNFCNormalizer() throws {
        let tokenizer = try load(try editedFixture { $0["normalizer"] = ["type": "NFC"] })
        XCTAssertEqual(tokenizer.encode("e\u{301}"), [128, 103])
        XCTAssertEqual(tokenizer.encode("\u{E9}"), [128, 103])
        XCTAssertEqual(tokenizer.encode("caf\u{E9} cafe\u{301}"), [67, 65, 70, 128, 103, 466, 70, 128, 103])
    }

    /// Marks are put in canonical order even where Foundation's NFC gets it wrong; expected
    /// scalars from Python's `unicodedata.normalize("NFC", ...)` (Unicode 14).
    func testNFCReordersMarksLikeUnicodedata() {
        XCTAssertEqual(Array(NFC.normalize("\u{1DF1}\u{0618}\u{0F75}").unicodeScalars),
                       ["\u{0618}", "\u{0F71}", "\u{0F74}", "\u{1DF1}"])
        XCTAssertEqual(Array(NFC.normalize("A\u{0301}\u{0316}").unicodeScalars), ["\u{C1}", "\u{0316}"])
        XCTAssertEqual(Array(NFC.normalize("\u{1100}\u{1161}").unicodeScalars), ["\u{AC00}"])  // Hangul L+V
        XCTAssertNil(NFC.normalize(ArraySlice("plain ascii and é".utf8)))                          // below U+0300
    }

    /// One-element `Sequence`s of the supported components load like the components themselves.
    func testSingleElementSequencesAreAccepted() throws {
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true]
        let tokenizer = try load(try editedFixture { root in
            root["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [byteLevel]]
            root["decoder"] = ["type": "Sequence", "decoders": [byteLevel]]
            root["normalizer"] = ["type": "Sequence", "normalizers": []]
        })
        XCTAssertEqual(tokenizer.encode("don't"), [68, 284, 7, 84])
    }

    /// Tiny vocabulary a b c ab abc [UNK] Ġ with the single merge `a b`.
    func testIgnoreMergesTakesWholeWordFromVocabulary() throws {
        let plain = try load(try tinyTokenizerJSON())
        let ignoring = try load(try tinyTokenizerJSON(["ignore_merges": true]))
        XCTAssertEqual(plain.encode("abc"), [3, 2])
        XCTAssertEqual(ignoring.encode("abc"), [4])
        XCTAssertEqual(ignoring.encode("abab"), [3, 3])
    }

    /// Bytes missing from the vocabulary vanish without `unk_token`, become `[UNK]` with it,
    /// one per run with `fuse_unk`.
    func testUnknownBytes() throws {
        XCTAssertEqual(try load(try tinyTokenizerJSON()).encode("abxyc"), [3, 2])
        XCTAssertEqual(try load(try tinyTokenizerJSON()).encode("xy a"), [6, 0])
        let unk = try load(try tinyTokenizerJSON(["unk_token": "[UNK]"]))
        XCTAssertEqual(unk.encode("abxyc"), [3, 5, 5, 2])
        XCTAssertEqual(unk.encode("xy a"), [5, 5, 6, 0])
        let fused = try load(try tinyTokenizerJSON(["unk_token": "[UNK]", "fuse_unk": true]))
        XCTAssertEqual(fused.encode("abxyc"), [3, 5, 2])
        XCTAssertEqual(fused.encode("xy a"), [5, 6, 0])
    }

    /// BOS/EOS can be named (from tokenizer_config.json) and are otherwise guessed.
    func testNamedSpecialTokens() throws {
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: MambaTinyFixture.bytes("tokenizer.json"),
                                                  bosToken: "<|endoftext|>", eosToken: "Ġthe")
        XCTAssertEqual(tokenizer.bosTokenID, 0)
        XCTAssertEqual(tokenizer.eosTokenID, tokenizer.id(forToken: "Ġthe"))
        XCTAssertNil(try load(try tinyTokenizerJSON()).bosTokenID)
    }
}
