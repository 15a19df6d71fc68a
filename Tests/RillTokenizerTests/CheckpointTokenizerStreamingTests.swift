import XCTest
@testable import RillTokenizer

/// Streaming decode of the new tokenizers: never a broken character, and the same text as
/// `decode`, including byte-fallback characters split over several ids.
final class CheckpointTokenizerStreamingTests: XCTestCase {
    /// Feeds `ids` one at a time; returns the chunks and the flushed tail.
    private func stream(_ tok: any Tokenizer, _ ids: [Int32]) -> (chunks: [String], tail: String) {
        var decoder = tok.makeStreamingDecoder()
        let chunks = ids.map { decoder.append($0) }
        return (chunks, decoder.flush())
    }

    /// For every fixture case: chunks concatenate to `decode`, and no chunk holds U+FFFD
    /// (every case is valid text, so a U+FFFD would be a character cut between tokens).
    func testStreamingEqualsDecodeAndNeverBreaksACharacter() throws {
        for kind in CheckpointFixture.kinds {
            let tok = try CheckpointFixture.tokenizer(kind)
            for c in try CheckpointFixture.cases(kind).cases {
                let (chunks, tail) = stream(tok, c.ids)
                XCTAssertEqual(chunks.joined() + tail, c.decoded, "\(kind): \(String(reflecting: c.text))")
                if !c.decoded.contains("\u{FFFD}") {
                    XCTAssertFalse(chunks.contains { $0.contains("\u{FFFD}") }, "\(kind): \(String(reflecting: c.text))")
                }
                XCTAssertEqual(tail, "", "\(kind): nothing held back at the end of valid text")
            }
        }
    }

    /// `é` as `<0xC3>` `<0xA9>`: the first id prints nothing, the second the whole character.
    func testByteFallbackCharacterSplitAcrossSteps() throws {
        for kind in ["llama-legacy-bpe", "llama-metaspace-bpe", "metaspace-split-bpe", "sentencepiece-bpe"] {
            let tok = try CheckpointFixture.tokenizer(kind)
            let ids = try [0xF0, 0x9F, 0x98, 0x80].map { try XCTUnwrap(tok.id(forToken: MetaspaceBPETokenizer.byteToken($0))) }
            var decoder = tok.makeStreamingDecoder()
            XCTAssertEqual(ids.dropLast().map { decoder.append($0) }, ["", "", ""], kind)
            XCTAssertTrue(decoder.hasPendingBytes, kind)
            XCTAssertEqual(decoder.append(ids[3]), "\u{1F600}", kind)
            XCTAssertEqual(decoder.flush(), "", kind)
        }
    }

    /// The leading space is dropped only at the start of the text, also when streaming; after
    /// `flush()` a new text starts.
    func testLeadingSpaceDroppedOnlyAtStart() throws {
        for kind in ["llama-legacy-bpe", "llama-metaspace-bpe", "metaspace-split-bpe", "sentencepiece-bpe", "sentencepiece-unigram"] {
            let tok = try CheckpointFixture.tokenizer(kind)
            let ids = tok.encode("Hello world")
            var decoder = tok.makeStreamingDecoder()
            XCTAssertEqual(ids.map { decoder.append($0) }.joined() + decoder.flush(), "Hello world", kind)
            XCTAssertEqual(ids.map { decoder.append($0) }.joined() + decoder.flush(), "Hello world", kind)
            XCTAssertEqual(tok.decode(ids + ids), "Hello world Hello world", kind)
        }
    }
}
