import Foundation
import RillConvert
import RillFormat
import XCTest

/// `checkJSONBytes` refuses exactly what Swift 6.0's `JSONDecoder` traps on (invalid UTF-8,
/// lone surrogate escapes), in keys and values alike, with the offset of the first bad byte;
/// valid JSON, escapes and surrogate pairs included, passes.
final class JSONBytesCheckTests: XCTestCase {
    func check(_ bytes: [UInt8]) -> JSONBytesError? { firstError(bytes) }

    func firstError(_ bytes: some ContiguousBytes) -> JSONBytesError? {
        do throws(JSONBytesError) { try checkJSONBytes(bytes); return nil } catch { return error }
    }

    func check(_ text: String) -> JSONBytesError? { check(Array(text.utf8)) }

    // MARK: - Accepted

    func testValidJSONIsAccepted() {
        XCTAssertNil(check(#"{"a": [1, 2.5e-3, true, null, "b"], "c": {"d": ""}}"#))
        XCTAssertNil(check(""))
        XCTAssertNil(check("{}"))
    }

    func testEveryEscapeAndASurrogatePairAreAccepted() {
        // 😀 is U+1F600 = \uD83D\uDE00; lower-case hex digits are as valid.
        XCTAssertNil(check(#"{"\ud83d\ude00": "\uD83D\uDE00 \" \\ \/ \b \f \n \r \t \u0000 \u00e9 \uFFFF"}"#))
    }

    /// `\\u` is an escaped backslash and a plain `u`: `\\uD800` is no escape of a surrogate.
    func testEscapedBackslashBeforeUIsNoEscape() {
        XCTAssertNil(check(#"{"\\uD800": "\\uDC00", "x\\\\uDFFF": 1}"#))
    }

    func testMultiByteUTF8AndTheByteOrderMarkAreAccepted() {
        // 2, 3 and 4 bytes, the largest scalar U+10FFFF, U+FFFD, then a UTF-8 byte-order mark.
        XCTAssertNil(check(#"{"é€😀": "\#u{10FFFF}\#u{FFFD}"}"#))
        XCTAssertNil(check([0xEF, 0xBB, 0xBF] + Array("{}".utf8)))
    }

    /// Outside strings a quote-free `\u` is not looked at: JSONDecoder throws on it itself.
    func testBackslashOutsideAStringIsLeftToTheDecoder() {
        XCTAssertNil(check(#"{"a": \uD800}"#))
    }

    // MARK: - Refused: UTF-8

    func testInvalidUTF8InAKeyIsRefusedWithItsOffset() {
        XCTAssertEqual(check(Array(#"{"a"#.utf8) + [0xFF] + Array(#"": 1}"#.utf8)), .invalidUTF8(offset: 3))
    }

    func testInvalidUTF8InAValueIsRefusedWithItsOffset() {
        XCTAssertEqual(check(Array(#"{"a": "b"#.utf8) + [0xC3] + Array(#""}"#.utf8)), .invalidUTF8(offset: 8))
    }

    /// Each is a sequence table 3-7 of the Unicode Standard excludes.
    func testOverlongSurrogateTooLargeAndTruncatedSequencesAreRefused() {
        let bad: [[UInt8]] = [
            [0xC0, 0xAF],              // overlong "/"
            [0xE0, 0x80, 0xAF],        // overlong, 3 bytes
            [0xED, 0xA0, 0x80],        // U+D800 encoded directly
            [0xF4, 0x90, 0x80, 0x80],  // U+110000
            [0xF5, 0x80, 0x80, 0x80],  // lead byte above F4
            [0x80],                    // lone continuation byte
            [0xE2, 0x82],              // truncated at the end of the text
            [0xE2, 0x28, 0xA1],        // continuation missing in the middle
        ]
        for b in bad {
            XCTAssertEqual(check(Array(#"{"k": ""#.utf8) + b + Array(#""}"#.utf8)), .invalidUTF8(offset: 7), "\(b)")
        }
        XCTAssertEqual(check(Array(#"{"k": ""#.utf8) + [0xE2, 0x82]), .invalidUTF8(offset: 7))
    }

    /// UTF-16 text is valid UTF-8 byte by byte when it is ASCII, but Foundation would decode it
    /// as UTF-16, past this check: its zero bytes are refused.
    func testZeroBytesAreRefused() {
        XCTAssertEqual(check([0x7B, 0x00, 0x7D, 0x00]), .zeroByte(offset: 1))
        XCTAssertEqual(check([0xFF, 0xFE, 0x7B, 0x00]), .invalidUTF8(offset: 0))  // UTF-16 LE byte-order mark
    }

    // MARK: - Refused: escapes

    func testLoneHighSurrogateInAKeyIsRefused() {
        XCTAssertEqual(check(#"{"a\uD800": 1}"#), .loneHighSurrogate(offset: 3))
    }

    func testLoneHighSurrogateInAValueIsRefused() {
        XCTAssertEqual(check(#"{"a": "\udbff"}"#), .loneHighSurrogate(offset: 7))
        // Followed by something other than a low surrogate escape.
        XCTAssertEqual(check(#"{"a": "\uD800x"}"#), .loneHighSurrogate(offset: 7))
        XCTAssertEqual(check(#"{"a": "\uD800\n"}"#), .loneHighSurrogate(offset: 7))
        XCTAssertEqual(check(#"{"a": "\uD800\u0041"}"#), .loneHighSurrogate(offset: 7))
        XCTAssertEqual(check(#"{"a": "\uD800\uD800\uDC00"}"#), .loneHighSurrogate(offset: 7))
        XCTAssertEqual(check(#"{"a": "\uD800"#), .loneHighSurrogate(offset: 7))
    }

    func testLoneLowSurrogateInAKeyIsRefused() {
        XCTAssertEqual(check(#"{"\uDC00": 1}"#), .loneLowSurrogate(offset: 2))
    }

    func testLoneLowSurrogateInAValueIsRefused() {
        XCTAssertEqual(check(#"{"a": "x\uDFFF"}"#), .loneLowSurrogate(offset: 8))
        // A pair, then a second low surrogate.
        XCTAssertEqual(check(#"{"a": "\uD83D\uDE00\uDE00"}"#), .loneLowSurrogate(offset: 19))
    }

    /// JSON allows no byte below 0x20 in a string (Swift 6.0's decoder traps on one in a key);
    /// between tokens, tab, line feed and carriage return are whitespace.
    func testControlCharacterInAKeyOrValueIsRefused() {
        XCTAssertEqual(check(Array(#"{"a"#.utf8) + [0x01] + Array(#"": 1}"#.utf8)), .controlCharacter(offset: 3))
        XCTAssertEqual(check(Array(#"{"a": "b"#.utf8) + [0x09] + Array(#""}"#.utf8)), .controlCharacter(offset: 8))
        XCTAssertEqual(check(Array(#"{"a": "b"#.utf8) + [0x0A] + Array(#""}"#.utf8)), .controlCharacter(offset: 8))
        XCTAssertNil(check("{\n\t\"a\":\r\n 1}"))
    }

    func testInvalidEscapesAreRefused() {
        XCTAssertEqual(check(#"{"a": "\x"}"#), .badEscape(offset: 7))
        XCTAssertEqual(check(#"{"a": "\u12G4"}"#), .badEscape(offset: 7))
        XCTAssertEqual(check(#"{"a": "\u12"#), .badEscape(offset: 7))
        XCTAssertEqual(check(#"{"a": "\"#), .badEscape(offset: 7))
    }

    /// The description names the offset, for the readers that put it in their messages.
    func testDescriptionNamesTheOffset() {
        XCTAssertEqual(JSONBytesError.invalidUTF8(offset: 12).description, "invalid UTF-8 at byte 12")
        XCTAssert(JSONBytesError.loneHighSurrogate(offset: 3).description.hasSuffix("at byte 3"))
    }

    /// `Data` and raw buffers go through the same check as arrays.
    func testDataAndRawBuffersAreChecked() {
        let bytes = Array(#"{"\uDC00": 1}"#.utf8)
        XCTAssertEqual(firstError(Data(bytes)), .loneLowSurrogate(offset: 2))
        XCTAssertEqual(bytes.withUnsafeBytes { firstError($0) }, .loneLowSurrogate(offset: 2))
    }

    // MARK: - End to end: each reader names its file and field

    func testSafetensorsHeaderWithALoneSurrogateKeyIsBadJSON() throws {
        let path = try makeTemporaryDirectory().appendingPathComponent("model.safetensors").path
        try writeBytes(safetensorsBytes(header: #"{"a\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]), to: path)
        guard let e = rillError({ try SafetensorsFile(path: path) }) else { return }
        XCTAssertEqual(e, .badJSON(path: path, field: "header", reason: "a \\u escape of a high surrogate without its low surrogate at byte 3"))
    }

    func testSafetensorsHeaderWithInvalidUTF8InAKeyIsBadJSON() throws {
        let path = try makeTemporaryDirectory().appendingPathComponent("model.safetensors").path
        var header = Array(#"{"ab":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}      "#.utf8)
        header[3] = 0xFF
        try writeBytes([UInt8].le(UInt64(header.count)) + header + [0, 0, 0, 0], to: path)
        guard let e = rillError({ try SafetensorsFile(path: path) }) else { return }
        XCTAssertEqual(e, .badJSON(path: path, field: "header", reason: "invalid UTF-8 at byte 3"))
    }

    func testSafetensorsIndexWithALoneSurrogateKeyIsBadJSON() throws {
        let dir = try makeTemporaryDirectory().path
        try writeBytes(Array(#"{"weight_map": {"\udc00": "model-00001-of-00001.safetensors"}}"#.utf8), to: dir + "/model.safetensors.index.json")
        assertRillError(.badJSON, field: "weight_map") { try SafetensorsCheckpoint(directory: dir) }
    }

    func testRillMetadataWithALoneSurrogateOrInvalidUTF8KeyIsBadJSON() throws {
        let dir = try makeTemporaryDirectory()
        let good = dir.appendingPathComponent("good.rill").path, bad = dir.appendingPathComponent("bad.rill").path
        try SmallFile.write(to: good)
        let raw = try RawRill(path: good)
        let json = raw.metadataJSON
        XCTAssert(json.hasPrefix("{"), json)
        for (prefix, reason) in [
            (Array(#"{"\ud83d": 1, "#.utf8), "a \\u escape of a high surrogate without its low surrogate at byte 2"),
            (Array(#"{"x"#.utf8) + [0xC0, 0x80] + Array(#"": 1, "#.utf8), "invalid UTF-8 at byte 3"),
        ] {
            var damaged = raw
            damaged.replaceMetadata(with: prefix + Array(json.utf8.dropFirst()))
            try damaged.write(to: bad)
            guard let e = rillError({ try RillFile(path: bad) }) else { continue }
            XCTAssertEqual(e, .badJSON(path: bad, field: "metadata", reason: reason))
        }
    }

    /// config.json through the converter: refused before any output exists.
    func testConfigWithALoneSurrogateOrInvalidUTF8KeyIsBadJSONThroughTheConverter() throws {
        let dir = try makeTemporaryDirectory()
        let checkpoint = dir.appendingPathComponent("ckpt").path, out = dir.appendingPathComponent("model.rill").path
        for (prefix, reason) in [
            (Array(#"{"\udfff": 1, "#.utf8), "a \\u escape of a low surrogate without a high surrogate before it at byte 2"),
            (Array(#"{"k"#.utf8) + [0xFE] + Array(#"": 1, "#.utf8), "invalid UTF-8 at byte 3"),
        ] {
            try TinyMamba.write(to: checkpoint)
            try writeBytes(prefix + Array(TinyMamba.config.utf8.dropFirst()), to: checkpoint + "/config.json")
            guard let e = rillError({
                try Converter.convert(directory: checkpoint, output: out, options: ConvertOptions(quant: .int8), tokenizerCheck: fixtureTokenizerCheck)
            }) else { continue }
            XCTAssertEqual(e, .badJSON(path: checkpoint + "/config.json", field: "config", reason: reason))
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
    }

    /// tokenizer_config.json is optional input (add_bos_token, chat_template): a damaged one is
    /// ignored as an unreadable one is, and the conversion goes on.
    func testTokenizerConfigWithALoneSurrogateKeyIsIgnoredByTheConverter() throws {
        let dir = try makeTemporaryDirectory()
        let checkpoint = dir.appendingPathComponent("ckpt").path, out = dir.appendingPathComponent("model.rill").path
        try TinyMamba.write(to: checkpoint)
        try writeBytes(Array(#"{"\ud800": 1, "add_bos_token": true, "chat_template": "{{ x }}"}"#.utf8), to: checkpoint + "/tokenizer_config.json")
        _ = try Converter.convert(directory: checkpoint, output: out, options: ConvertOptions(quant: .int8), tokenizerCheck: fixtureTokenizerCheck)
        XCTAssertNil(try RillFile(path: out).metadata.tokenizer?.chatTemplate)
    }
}
