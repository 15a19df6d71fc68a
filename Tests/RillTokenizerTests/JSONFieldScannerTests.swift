import Foundation
import XCTest
@testable import RillTokenizer

/// The hand-written reader for `model.vocab` / `model.merges` agrees with JSON's rules.
final class JSONFieldScannerTests: XCTestCase {
    /// Files written with `ensure_ascii` spell every non-ASCII character as `\uXXXX` (and
    /// astral ones as surrogate pairs); they must load as the same tokenizer.
    func testEscapedNonASCIILoadsTheSame() throws {
        let text = String(decoding: try MambaTinyFixture.bytes("tokenizer.json"), as: UTF8.self)
        var escaped = ""
        for s in text.unicodeScalars {
            if s.value < 0x80 {
                escaped.unicodeScalars.append(s)
            } else {
                for unit in String(s).utf16 { escaped += "\\u" + String(format: "%04x", unit) }
            }
        }
        XCTAssertTrue(escaped.contains("\\u0120"))
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: Array(escaped.utf8))
        for prompt in try MambaTinyFixture.prompts() {
            XCTAssertEqual(tokenizer.encode(prompt), MambaTinyFixture.tokenizer.encode(prompt))
        }
    }

    /// Pretty-printed JSON (other whitespace, other key order) loads the same.
    func testPrettyPrintedLoadsTheSame() throws {
        let object = try MambaTinyFixture.tokenizerObject()
        let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: [UInt8](pretty))
        let prompt = try MambaTinyFixture.prompts()[1]
        XCTAssertEqual(tokenizer.encode(prompt), MambaTinyFixture.tokenizer.encode(prompt))
    }

    /// Every JSON escape and a surrogate pair.
    func testStringEscapes() throws {
        let json = #"""
        {"model": {"type": "BPE", "vocab": {"\"": 0, "\\": 1, "a\/b": 2, "\u00e9": 3, "\ud83d\ude00": 4,
        "x": 5, "\t\n": 6}, "merges": []},
        "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}}
        """#
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: Array(json.utf8))
        XCTAssertEqual(tokenizer.token(forID: 0), "\"")
        XCTAssertEqual(tokenizer.token(forID: 1), "\\")
        XCTAssertEqual(tokenizer.token(forID: 2), "a/b")
        XCTAssertEqual(tokenizer.token(forID: 3), "é")
        XCTAssertEqual(tokenizer.token(forID: 4), "😀")
        XCTAssertEqual(tokenizer.token(forID: 6), "\t\n")
    }

    /// A lone surrogate escape, even in a vocabulary key (which JSONDecoder never decodes), is
    /// refused before the scanner runs (`checkJSONBytes`), as the reference refuses it:
    /// Hugging Face tokenizers reads tokenizer.json with serde_json, which fails on
    /// `\ud800x` (UnexpectedEndOfHexEscape) and on a lone `\udc00`
    /// (LoneLeadingSurrogateInHexEscape).
    func testLoneSurrogateInAVocabularyKeyIsRefused() throws {
        let json = #"""
        {"model": {"type": "BPE", "vocab": {"a": 0, "\ud800x": 1}, "merges": []},
        "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}}
        """#
        XCTAssertThrowsError(try ByteLevelBPETokenizer(tokenizerJSON: Array(json.utf8))) { error in
            guard case let .badJSON(field, reason)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "(root)")
            XCTAssert(reason.contains("high surrogate"), reason)
        }
    }

    /// Only the top-level `model` counts; look-alike keys elsewhere, and values of every type
    /// before and after, are skipped.
    func testOnlyTopLevelModelFieldsAreRead() throws {
        let json = #"""
        {"decoy": {"model": {"vocab": {"zz": 9}}}, "list": [1, -2.5e3, true, null, "}", {"a": []}],
         "model": {"extra": {"vocab": {"yy": 8}}, "type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2},
                   "merges": [["a", "b"]], "more": [[], {}]},
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
         "decoder": {"type": "ByteLevel"}, "tail": "x"}
        """#
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: Array(json.utf8))
        XCTAssertEqual(tokenizer.vocabSize, 3)
        XCTAssertNil(tokenizer.id(forToken: "zz"))
        XCTAssertEqual(tokenizer.encode("ab"), [2])
    }

    /// A repeated key counts once, the first time, as in `JSONDecoder`; a byte order mark is skipped.
    func testFirstOfRepeatedKeysAndByteOrderMark() throws {
        let json = #"""
        {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "vocab": {"q": 0},
                   "merges": [["a", "b"]], "merges": []},
         "model": {"type": "Unigram"},
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false}, "decoder": {"type": "ByteLevel"}}
        """#
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: [0xEF, 0xBB, 0xBF] + Array(json.utf8))
        XCTAssertEqual(tokenizer.encode("ab"), [2])
        XCTAssertNil(tokenizer.id(forToken: "q"))
    }

    /// Ids must be plain integers.
    func testNonIntegerIDsAreRefused() throws {
        for id in ["1.0", "1e2", "\"1\"", "true"] {
            let json = #"{"model": {"type": "BPE", "vocab": {"a": "# + id + #"}, "merges": []}}"#
            XCTAssertThrowsError(try ByteLevelBPETokenizer(tokenizerJSON: Array(json.utf8)), id) { error in
                guard case let .badJSON(field, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
                XCTAssertEqual(field, "model.vocab[\"a\"]")
            }
        }
    }

    /// A merge that is neither a string nor an array of strings is named by its index.
    func testMergeOfWrongTypeIsNamed() throws {
        let json = #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "a"], 7]}}"#
        XCTAssertThrowsError(try ByteLevelBPETokenizer(tokenizerJSON: Array(json.utf8))) { error in
            guard case let .badJSON(field, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "model.merges[1]")
        }
    }

    /// Counts are bounded while reading, before the entries are kept.
    func testCountsAreBoundedWhileReading() throws {
        let bytes = Array(#"{"a": 0, "b": 1, "c": 2}"#.utf8)
        XCTAssertThrowsError(try JSONFieldScanner.vocab(bytes, 0..<bytes.count, limit: 2)) {
            XCTAssertEqual($0 as? TokenizerError, .tooLarge(field: "model.vocab", count: 3, limit: 2))
        }
        let merges = Array(#"["a b", "c d"]"#.utf8)
        XCTAssertThrowsError(try JSONFieldScanner.merges(merges, 0..<merges.count, limit: 1)) {
            XCTAssertEqual($0 as? TokenizerError, .tooLarge(field: "model.merges", count: 2, limit: 1))
        }
    }
}
