import XCTest
@testable import RillTokenizer

/// Bad or unsupported tokenizer.json files are refused with an error that names the field.
final class TokenizerErrorTests: XCTestCase {
    private func assertThrows(_ bytes: [UInt8], _ expected: TokenizerError, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try ByteLevelBPETokenizer(tokenizerJSON: bytes)
            XCTFail("loaded; expected \(expected)", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
        }
        // validate() refuses the same file with the same error.
        do {
            try ByteLevelBPETokenizer.validate(tokenizerJSON: bytes)
            XCTFail("validated", file: file, line: line)
        } catch {
            XCTAssertEqual(error, expected, file: file, line: line)
        }
    }

    /// Catches the error for a pattern-level check (the `reason` text comes from Foundation).
    private func loadError(_ bytes: [UInt8]) -> TokenizerError? {
        do {
            _ = try ByteLevelBPETokenizer(tokenizerJSON: bytes)
            return nil
        } catch {
            return error
        }
    }

    func testFixtureValidates() throws {
        XCTAssertNoThrow(try ByteLevelBPETokenizer.validate(tokenizerJSON: MambaTinyFixture.bytes("tokenizer.json")))
    }

    /// Unigram and WordPiece models are refused as unsupported, not as bad JSON, even though
    /// their vocabularies have another shape.
    func testUnsupportedModelTypes() throws {
        for type in ["Unigram", "WordPiece", "WordLevel"] {
            let bytes = try editedFixture { root in
                editObject(&root, "model") { model in
                    model["type"] = type
                    model["vocab"] = [["<unk>", 0.0], ["a", -1.5]]
                }
            }
            assertThrows(bytes, .unsupported(field: "model.type", found: type, supported: ["BPE"]))
        }
    }

    func testMergeOfUnknownTokenNamesTheMerge() throws {
        let bytes = try editedFixture { root in
            editObject(&root, "model") { model in
                model["merges"] = (model["merges"] as! [Any]) + [["zz_unknown", "t"]]
            }
        }
        assertThrows(bytes, .unknownToken(field: "model.merges[1791]", token: "zz_unknown"))
    }

    /// A merge whose result is not in the vocabulary is as broken as one of unknown parts.
    func testMergeWithUnknownResult() throws {
        let bytes = try tinyTokenizerJSON(["merges": [["a", "b"], ["b", "c"]]])
        assertThrows(bytes, .unknownToken(field: "model.merges[1]", token: "bc"))
    }

    func testMergeThatIsNotAPair() throws {
        assertThrows(try tinyTokenizerJSON(["merges": ["a b c"]]),
                     .malformed(field: "model.merges[0]", reason: "expected two tokens, found 3"))
        assertThrows(try tinyTokenizerJSON(["merges": [["a"]]]),
                     .malformed(field: "model.merges[0]", reason: "expected two tokens, found 1"))
    }

    func testBadJSON() {
        guard case let .badJSON(field, _)? = loadError(Array("{\"model\": ".utf8)) else {
            return XCTFail("expected badJSON")
        }
        XCTAssertEqual(field, "(root)")
        guard case .badJSON? = loadError([]) else { return XCTFail("expected badJSON for empty input") }
    }

    /// Swift 6.0's JSONDecoder stops the process on these in object keys (see
    /// `checkJSONBytes`); they are refused first, in keys and in values alike, with the byte
    /// offset. The fixture is edited as text so that the damage sits inside a real file.
    func testInvalidUTF8OrLoneSurrogateInAKeyOrValueIsBadJSON() throws {
        let good = try MambaTinyFixture.bytes("tokenizer.json")
        let text = String(decoding: good, as: UTF8.self)
        let key = try XCTUnwrap(text.range(of: "\"model\""))
        let keyOffset = text.utf8.distance(from: text.startIndex, to: key.lowerBound) + 1  // inside the quotes
        let value = try XCTUnwrap(text.range(of: "\"BPE\""))
        let valueOffset = text.utf8.distance(from: text.startIndex, to: value.lowerBound) + 1
        for (offset, insert, reason) in [
            (keyOffset, [0xFF] as [UInt8], "invalid UTF-8 at byte \(keyOffset)"),
            (valueOffset, [0xC3], "invalid UTF-8 at byte \(valueOffset)"),
            (keyOffset, [0x01], "an unescaped control character in a string at byte \(keyOffset)"),
            (keyOffset, Array(#"\uD800"#.utf8), "a \\u escape of a high surrogate without its low surrogate at byte \(keyOffset)"),
            (valueOffset, Array(#"\uDBFFx"#.utf8), "a \\u escape of a high surrogate without its low surrogate at byte \(valueOffset)"),
            (keyOffset, Array(#"\udc00"#.utf8), "a \\u escape of a low surrogate without a high surrogate before it at byte \(keyOffset)"),
            (valueOffset, Array(#"\uDFFF"#.utf8), "a \\u escape of a low surrogate without a high surrogate before it at byte \(valueOffset)"),
        ] {
            var bytes = good
            bytes.insert(contentsOf: insert, at: offset)
            assertThrows(bytes, .badJSON(field: "(root)", reason: reason))
        }
    }

    /// A surrogate pair and an escaped backslash before `u` are ordinary JSON: the file loads.
    func testSurrogatePairAndEscapedBackslashAreAccepted() throws {
        let bytes = try tinyTokenizerJSON()
        var text = String(decoding: bytes, as: UTF8.self)
        // An unknown top-level key is ignored; its name and value carry the escapes.
        text.insert(contentsOf: #""x\ud83d\ude00\\uD800": "\\udc00\uD83D\uDE00", "#, at: text.index(after: text.startIndex))
        XCTAssertNoThrow(try ByteLevelBPETokenizer(tokenizerJSON: Array(text.utf8)))
    }

    /// A field of the wrong JSON type is named by its path.
    func testWrongFieldTypeNamesThePath() throws {
        let bytes = try editedFixture { root in editObject(&root, "model") { $0["vocab"] = "not an object" } }
        guard case let .badJSON(field, _)? = loadError(bytes) else { return XCTFail("expected badJSON") }
        XCTAssertEqual(field, "model.vocab")
        let missing = try editedFixture { root in editObject(&root, "model") { $0["vocab"] = nil } }
        XCTAssertEqual(loadError(missing), .badJSON(field: "model.vocab", reason: "missing"))
    }

    func testDuplicateVocabularyID() throws {
        let bytes = try tinyTokenizerJSON(["vocab": ["a": 0, "b": 1, "c": 1, "ab": 2, "Ġ": 3]])
        assertThrows(bytes, .duplicateID(field: "model.vocab", id: 1, first: "b", second: "c"))
    }

    func testIDsOutOfRange() throws {
        assertThrows(try tinyTokenizerJSON(["vocab": ["a": -1, "b": 1, "ab": 2]]),
                     .idOutOfRange(field: "model.vocab[\"a\"]", id: -1, limit: ByteLevelBPETokenizer.maxVocabEntries))
        assertThrows(try tinyTokenizerJSON(["vocab": ["a": 0, "b": 1, "ab": 2_000_000_000]]),
                     .idOutOfRange(field: "model.vocab[\"ab\"]", id: 2_000_000_000, limit: ByteLevelBPETokenizer.maxVocabEntries))
        let added = try editedFixture { root in
            root["added_tokens"] = [["id": 99_999_999, "content": "<x>", "special": true]]
        }
        assertThrows(added, .idOutOfRange(field: "added_tokens[0]", id: 99_999_999, limit: ByteLevelBPETokenizer.maxVocabEntries))
    }

    /// An id in range but far beyond the others would make every id-indexed table huge.
    func testSparseIDsAreRefused() throws {
        let bytes = try editedFixture { root in
            root["added_tokens"] = [["id": 9_000_000, "content": "<x>", "special": true]]
        }
        assertThrows(bytes, .idOutOfRange(field: "model.vocab / added_tokens (ids must be nearly dense)",
                                          id: 9_000_000, limit: 2 * (2048 + 1) + 1024))
    }

    func testDuplicateAddedTokenID() throws {
        let bytes = try editedFixture { root in
            root["added_tokens"] = [["id": 0, "content": "<a>", "special": true], ["id": 0, "content": "<b>", "special": true]]
        }
        assertThrows(bytes, .duplicateID(field: "added_tokens[1].id", id: 0, first: "<a>", second: "<b>"))
    }

    func testUnsupportedNormalizerPreTokenizerDecoder() throws {
        assertThrows(try editedFixture { $0["normalizer"] = ["type": "Lowercase"] },
                     .unsupported(field: "normalizer.type", found: "Lowercase", supported: ["null", "NFC"]))
        assertThrows(try editedFixture { $0["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁"] },
                     .unsupported(field: "pre_tokenizer.type", found: "Metaspace", supported: ["ByteLevel"]))
        assertThrows(try editedFixture { $0["pre_tokenizer"] = NSNull() },
                     .unsupported(field: "pre_tokenizer", found: "null", supported: ["ByteLevel"]))
        assertThrows(try editedFixture { $0["decoder"] = ["type": "WordPiece"] },
                     .unsupported(field: "decoder.type", found: "WordPiece", supported: ["ByteLevel"]))
    }

    func testUnsupportedModelOptions() throws {
        assertThrows(try tinyTokenizerJSON(["dropout": 0.1]),
                     .unsupported(field: "model.dropout", found: "0.1", supported: ["null", "0"]))
        assertThrows(try tinyTokenizerJSON(["byte_fallback": true]),
                     .unsupported(field: "model.byte_fallback", found: "true", supported: ["false"]))
        assertThrows(try tinyTokenizerJSON(["continuing_subword_prefix": "##"]),
                     .unsupported(field: "model.continuing_subword_prefix", found: "##", supported: ["null"]))
        assertThrows(try tinyTokenizerJSON(["unk_token": "<nope>"]),
                     .unknownToken(field: "model.unk_token", token: "<nope>"))
    }

    func testNamedBOSMustExist() throws {
        XCTAssertThrowsError(try ByteLevelBPETokenizer(tokenizerJSON: MambaTinyFixture.bytes("tokenizer.json"), bosToken: "<s>")) {
            XCTAssertEqual($0 as? TokenizerError, .unknownToken(field: "bos_token", token: "<s>"))
        }
    }

    /// The message a user sees names the field and the offending value.
    func testDescriptionNamesField() {
        let error = TokenizerError.unsupported(field: "model.type", found: "Unigram", supported: ["BPE"])
        XCTAssertEqual(error.description, "tokenizer.json: model.type: 'Unigram' is not supported (supported: BPE)")
    }
}
