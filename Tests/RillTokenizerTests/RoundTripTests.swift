import RillFormat
import XCTest
@testable import RillTokenizer

/// `decode(encode(s)) == s` for any text: the fixture has no normalizer and no prefix space,
/// and byte-level BPE covers every byte.
final class RoundTripTests: XCTestCase {
    /// Fragments chosen to stress each rule: accents, CJK, emoji with modifiers and joiners,
    /// whitespace runs of every kind, digits, punctuation, contractions, the special token.
    private static let fragments: [String] = [
        "a", "Z", "the", " quick", "fox", "é", "ü", "ß", "ñ", "Ω", "日本語", "中文", "한국어",
        "😀", "👍🏽", "🇫🇷", "👨‍👩‍👧", " ", "  ", "   ", "\n", "\n\n", "\t", "\r\n", "\u{3000}", "\u{A0}",
        "0", "42", "3.14", "½", "'", "'s", "'re", "'LL", ".", ",", "!?", "(", ")", "\"", "-", "_",
        "<|endoftext|>", "<|", "|>", "e\u{301}", "\u{0}", "\u{7F}", "\u{FFFD}",
    ]

    func testRandomStringsRoundTrip() {
        var rng = SplitMix64(seed: 20_240_601)
        let tokenizer = MambaTinyFixture.tokenizer
        for _ in 0..<500 {
            let count = Int.random(in: 0...30, using: &rng)
            let text = (0..<count).map { _ in Self.fragments.randomElement(using: &rng)! }.joined()
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(text)), text, text.debugDescription)
        }
    }

    /// Random Unicode scalars from all planes (not just the fragments above).
    func testRandomScalarsRoundTrip() {
        var rng = SplitMix64(seed: 7)
        let tokenizer = MambaTinyFixture.tokenizer
        for _ in 0..<200 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 1...40, using: &rng) {
                let limit: UInt32 = Bool.random(using: &rng) ? 0x80 : 0x10_FFFF
                if let s = Unicode.Scalar(UInt32.random(in: 0..<limit, using: &rng)) { scalars.append(s) }
            }
            let text = String(scalars)
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(text)), text, text.debugDescription)
        }
    }

    /// Special tokens decode to their content, or vanish when skipped.
    func testSpecialTokenDecodesToContentUnlessSkipped() {
        let tokenizer = MambaTinyFixture.tokenizer
        let ids = tokenizer.encode("a<|endoftext|>b")
        XCTAssertEqual(ids, [65, 0, 66])
        XCTAssertEqual(tokenizer.decode(ids), "a<|endoftext|>b")
        XCTAssertEqual(tokenizer.decode(ids, skippingSpecialTokens: true), "ab")
    }

    /// Bytes that are not UTF-8 become U+FFFD, one per maximal invalid subsequence, as in
    /// tokenizers 0.23.3. Ids 159 and 225 spell bytes 0xE2 (a 3-byte lead) and 0x82.
    func testInvalidUTF8DecodesWithReplacementCharacters() {
        let tokenizer = MambaTinyFixture.tokenizer
        XCTAssertEqual(tokenizer.decode([159, 65]), "\u{FFFD}a")
        XCTAssertEqual(tokenizer.decode([159, 225]), "\u{FFFD}")
        XCTAssertEqual(tokenizer.decode([225, 159, 225, 65]), "\u{FFFD}\u{FFFD}a")
    }

    /// Ids outside the vocabulary are skipped, not trapped on.
    func testUnknownIDsAreSkipped() {
        let tokenizer = MambaTinyFixture.tokenizer
        XCTAssertEqual(tokenizer.decode([-1, 65, 2048, Int32.max]), "a")
        XCTAssertNil(tokenizer.token(forID: 2048))
        XCTAssertNil(tokenizer.token(forID: -1))
    }

    /// Lookups both ways, and the facts the runtime needs.
    func testVocabularyLookups() {
        let tokenizer = MambaTinyFixture.tokenizer
        XCTAssertEqual(tokenizer.vocabSize, 2048)
        XCTAssertEqual(tokenizer.token(forID: 0), "<|endoftext|>")
        XCTAssertEqual(tokenizer.token(forID: 221), "Ġ")
        XCTAssertEqual(tokenizer.id(forToken: "Ġ"), 221)
        XCTAssertEqual(tokenizer.id(forToken: "<|endoftext|>"), 0)
        XCTAssertEqual(tokenizer.specialTokens.map(\.content), ["<|endoftext|>"])
        XCTAssertTrue(tokenizer.isSpecialToken(0))
        XCTAssertFalse(tokenizer.isSpecialToken(65))
        // generation_config.json: bos_token_id 0, eos_token_id 0.
        XCTAssertEqual(tokenizer.bosTokenID, 0)
        XCTAssertEqual(tokenizer.eosTokenID, 0)
    }
}
