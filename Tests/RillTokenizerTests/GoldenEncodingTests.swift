import XCTest
@testable import RillTokenizer

/// Encoding matches the reference `tokenizers` library id for id.
final class GoldenEncodingTests: XCTestCase {
    /// The three prompts the model goldens were made from encode to the stored `pN.input_ids`
    /// (written by transformers 5.17.0 with tokenizers 0.23).
    func testGoldenPromptsEncodeToStoredInputIDs() throws {
        let prompts = try MambaTinyFixture.prompts()
        let golden = try MambaTinyFixture.bytes("golden.safetensors")
        XCTAssertEqual(prompts.count, 3)
        for (i, prompt) in prompts.enumerated() {
            let expected = try safetensorsInt32(golden, name: "p\(i).input_ids")
            XCTAssertEqual(MambaTinyFixture.tokenizer.encode(prompt), expected, "prompt \(i)")
        }
    }

    /// Edge cases, ids from tokenizers 0.23.3 (`Tokenizer.from_file(...).encode(s).ids`) on the
    /// mamba-tiny tokenizer.json.
    func testTrickyStringsMatchTokenizersLibrary() {
        let cases: [(String, [Int32])] = [
            ("", []),
            (" ", [221]),
            ("  hello", [221, 309, 276, 79]),                       // last space joins the word
            ("a  b", [65, 221, 271]),
            ("x\n\ny", [88, 199, 199, 89]),                          // newlines are separate pieces
            ("don't", [68, 284, 7, 84]),
            ("I'm", [41, 7, 77]),
            ("they're we've you'll he'd it's", [257, 1585, 7, 270, 457, 7, 317, 364, 7, 276, 309, 7, 68, 354, 500]),
            ("123abc", [17, 18, 19, 470, 67]),
            ("héllo wörld", [72, 128, 103, 276, 79, 266, 128, 115, 82, 323]),
            ("trailing   ", [84, 329, 370, 291, 221, 221, 221]),      // trailing run stays one piece
            ("Hello, World!", [40, 574, 79, 12, 980, 281, 323, 1]),
            ("tab\there", [84, 470, 198, 72, 363]),
            ("\u{A0}nbsp", [127, 255, 78, 1096, 80]),                // NBSP is \s but not the optional space
            ("日本語のテキスト", [163, 246, 99, 163, 251, 106, 165, 104, 253, 160, 224, 107, 160, 226, 229, 160, 225, 256, 160, 225, 118, 160, 226, 231]),
            ("emoji 😀👍🏽 done", [478, 79, 74, 73, 221, 173, 254, 247, 223, 173, 254, 240, 236, 173, 254, 238, 122, 836]),
            ("e\u{301}", [69, 137, 224]),                            // no normalizer: the mark stays apart
            ("x<|endoftext|>y", [88, 0, 89]),
            ("<|endoftext|><|endoftext|>", [0, 0]),
            ("  \n\n  end", [221, 221, 199, 199, 221, 878]),
            ("3.14159 and ½ Ⅻ", [19, 14, 17, 20, 17, 21, 25, 268, 221, 127, 122, 221, 159, 228, 105]),
            ("'S 'LL'", [7, 51, 221, 7, 44, 44, 7]),                 // contractions are case-sensitive
            ("a_b-c/d\\e", [65, 63, 66, 13, 67, 15, 68, 60, 69]),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(MambaTinyFixture.tokenizer.encode(text), expected, "\(text.debugDescription)")
        }
    }

    /// The same three prompts decode back to their text.
    func testGoldenPromptsRoundTrip() throws {
        for prompt in try MambaTinyFixture.prompts() {
            XCTAssertEqual(MambaTinyFixture.tokenizer.decode(MambaTinyFixture.tokenizer.encode(prompt)), prompt)
        }
    }
}
