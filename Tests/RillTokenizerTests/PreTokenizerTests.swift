import XCTest
@testable import RillTokenizer

/// The GPT-2 regex scanner. Expected pieces are those of tokenizers 0.23.3
/// `ByteLevel(add_prefix_space=False).pre_tokenize_str`, mapped back to text.
final class PreTokenizerTests: XCTestCase {
    private func assertPieces(_ text: String, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(GPT2PreTokenizer.split(text), expected, text.debugDescription, file: file, line: line)
    }

    /// `\s+(?!\S)` leaves the last space of a run to the word after it.
    func testLastSpaceOfRunAttachesToWord() {
        assertPieces("  hello", [" ", " hello"])
        assertPieces("a  b", ["a", " ", " b"])
    }

    /// A single newline before a word cannot use `\s+(?!\S)`; it falls to `\s+` alone.
    func testNewlinesBeforeWordSplitOneByOne() {
        assertPieces("x\n\ny", ["x", "\n", "\n", "y"])
    }

    /// Mixed whitespace: the run minus its last scalar, then ` x`.
    func testMixedWhitespaceRun() {
        assertPieces(" \t\n x", [" \t\n", " x"])
    }

    /// At the end of the text the whole run is one piece.
    func testTrailingWhitespaceIsOnePiece() {
        assertPieces("trailing   ", ["trailing", "   "])
    }

    func testContractions() {
        assertPieces("don't", ["don", "'t"])
        assertPieces("I'm", ["I", "'m"])
        assertPieces("they're", ["they", "'re"])
        // Not a contraction: `?'` is one punctuation run, then the letter.
        assertPieces("?'s", ["?'", "s"])
        // Case-sensitive: `'S` is punctuation then a letter.
        assertPieces("'S", ["'", "S"])
    }

    /// Letters and numbers are separate classes; `.` is other.
    func testLettersNumbersAndPunctuationSplit() {
        assertPieces("123abc", ["123", "abc"])
        assertPieces("x1.5y", ["x", "1", ".", "5", "y"])
        // Nl (Ⅻ) and No (½) are both \p{N}.
        assertPieces("Ⅻ½", ["Ⅻ½"])
    }

    /// Non-ASCII letters are \p{L}; only U+0020 can be the optional leading space.
    func testUnicodeLettersAndSpaces() {
        assertPieces("héllo wörld", ["héllo", " wörld"])
        assertPieces("日本語 テキスト", ["日本語", " テキスト"])
        assertPieces("\u{A0}nbsp", ["\u{A0}", "nbsp"])
        assertPieces("a\u{3000}b", ["a", "\u{3000}", "b"])
    }

    /// Emoji are "other"; a combining mark (Mn) is not a letter, so it leaves its base.
    func testEmojiAndCombiningMarks() {
        assertPieces("😀😀 a", ["😀😀", " a"])
        assertPieces("e\u{301}", ["e", "\u{301}"])
    }

    func testEmptyAndSingleSpace() {
        assertPieces("", [])
        assertPieces(" ", [" "])
    }
}
