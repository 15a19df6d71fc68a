import XCTest
@testable import RillTokenizer

/// Printing token by token never shows a broken character, and loses nothing.
final class StreamingDecoderTests: XCTestCase {
    /// CJK and emoji are split into byte tokens by the 2048-entry vocabulary, so most tokens end
    /// mid-character; each piece must be whole characters and the pieces must add up.
    func testMultiByteCharactersAreNeverSplit() {
        let tokenizer = MambaTinyFixture.tokenizer
        let text = "emoji 😀👍🏽 done, 日本語のテキスト; café\n👨‍👩‍👧 <|endoftext|> end"
        let ids = tokenizer.encode(text)
        var decoder = tokenizer.makeStreamingDecoder()
        var pieces: [String] = []
        for id in ids { pieces.append(decoder.append(id)) }
        XCTAssertFalse(decoder.hasPendingBytes)
        pieces.append(decoder.flush())
        XCTAssertEqual(pieces.joined(), text)
        for piece in pieces { XCTAssertFalse(piece.unicodeScalars.contains("\u{FFFD}"), piece.debugDescription) }
        // The test is only meaningful if some token did end inside a character.
        XCTAssertTrue(pieces.dropLast().contains(""), "no token ended mid-character")
    }

    /// An unfinished character at the end comes out of `flush` as U+FFFD.
    func testFlushReplacesUnfinishedCharacter() {
        let tokenizer = MambaTinyFixture.tokenizer
        let ids = tokenizer.encode("a😀")  // "a", then the emoji's 4 bytes over several tokens
        var decoder = tokenizer.makeStreamingDecoder()
        var out = ""
        for id in ids.dropLast() { out += decoder.append(id) }
        XCTAssertEqual(out, "a")
        XCTAssertTrue(decoder.hasPendingBytes)
        XCTAssertEqual(decoder.flush(), "\u{FFFD}")
        XCTAssertFalse(decoder.hasPendingBytes)
    }

    /// Bytes that can never complete are not held back, and the concatenation equals `decode`.
    func testInvalidBytesAreReplacedAtOnce() {
        let tokenizer = MambaTinyFixture.tokenizer
        // Id 159 spells byte 0xE2 (a 3-byte lead), id 225 spells 0x82 (a continuation).
        for ids: [Int32] in [[159, 65], [225, 159, 225, 65], [159, 225], [159]] {
            var decoder = tokenizer.makeStreamingDecoder()
            var out = ids.map { decoder.append($0) }.joined()
            out += decoder.flush()
            XCTAssertEqual(out, tokenizer.decode(ids), "\(ids)")
        }
    }

    /// Skipped special tokens print nothing.
    func testSkippingSpecialTokens() {
        let tokenizer = MambaTinyFixture.tokenizer
        var decoder = tokenizer.makeStreamingDecoder(skippingSpecialTokens: true)
        XCTAssertEqual(decoder.append(0), "")
        XCTAssertEqual(decoder.append(65), "a")
    }

    /// The cut point: held back only while the tail can still become a valid character.
    func testCompletePrefixLength() {
        XCTAssertEqual(UTF8Tail.completePrefixLength([]), 0)
        XCTAssertEqual(UTF8Tail.completePrefixLength([0x61]), 1)
        XCTAssertEqual(UTF8Tail.completePrefixLength([0x61, 0xF0, 0x9F, 0x98]), 1)        // 😀 missing its last byte
        XCTAssertEqual(UTF8Tail.completePrefixLength([0xF0, 0x9F, 0x98, 0x80]), 4)        // 😀 complete
        XCTAssertEqual(UTF8Tail.completePrefixLength([0x61, 0xC3]), 1)                    // é missing a byte
        XCTAssertEqual(UTF8Tail.completePrefixLength([0xE0, 0x80]), 2)                    // overlong: never valid
        XCTAssertEqual(UTF8Tail.completePrefixLength([0xED, 0xA0]), 2)                    // surrogate: never valid
        XCTAssertEqual(UTF8Tail.completePrefixLength([0xF4, 0x90]), 2)                    // above U+10FFFF
        XCTAssertEqual(UTF8Tail.completePrefixLength([0x80, 0x80]), 2)                    // stray continuations
        XCTAssertEqual(UTF8Tail.completePrefixLength([0xFF]), 1)                          // never a lead
    }
}
