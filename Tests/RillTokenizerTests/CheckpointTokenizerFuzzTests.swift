import XCTest
@testable import RillTokenizer

/// Seeded fuzzing: encode and decode never trap on any text or ids, and hostile tokenizer files
/// (truncated, mutated) throw `TokenizerError` or load into a tokenizer that still works.
final class CheckpointTokenizerFuzzTests: XCTestCase {
    /// xorshift64*: deterministic, so a failure reproduces.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// Scalars that stress each stage: spaces and `▁`, bytes of every UTF-8 length, marks,
    /// mapped characters of the unigram charsmap, pieces of special tokens.
    static let pool: [String] = [" ", "  ", "\t", "\n", "\u{2581}", "a", "Z", "0", "é", "e\u{301}", "\u{FB01}", "\u{FF21}",
                                 "\u{3000}", "日", "한", "\u{1F600}", "\u{200D}", "\u{FEFF}", "\u{0}", "<s>", "</s>", "<",
                                 ">", "<0x41>", "<|im_start|>", "<unk>", "the", "LORD", "\u{10FFFF}", "\u{7F}"]

    static func randomText(_ rng: inout Random) -> String {
        var s = ""
        for _ in 0..<rng.below(24) {
            if rng.below(4) == 0 {
                s.unicodeScalars.append(Unicode.Scalar(UInt32(rng.below(0xD800))) ?? "x")
            } else {
                s += pool[rng.below(pool.count)]
            }
        }
        return s
    }

    /// Random texts: ids are in range; random ids (some out of range): decode and streaming
    /// agree and do not trap.
    func testRandomTextAndIDsNeverTrap() throws {
        var rng = Random(state: 0x9E37_79B9_7F4A_7C15)
        for kind in CheckpointFixture.kinds {
            let tok = try CheckpointFixture.tokenizer(kind)
            for _ in 0..<1500 {
                let text = Self.randomText(&rng)
                let ids = tok.encode(text)
                XCTAssertTrue(ids.allSatisfy { $0 >= 0 && Int($0) < tok.vocabSize }, "\(kind): \(String(reflecting: text))")
                _ = tok.decode(ids)

                let random = (0..<rng.below(12)).map { _ in Int32(rng.below(tok.vocabSize + 8)) - 4 }
                var decoder = tok.makeStreamingDecoder()
                let streamed = random.map { decoder.append($0) }.joined() + decoder.flush()
                XCTAssertEqual(streamed, tok.decode(random), "\(kind): \(random)")
            }
        }
    }

    /// Every way of cutting a tokenizer file short, and random byte edits, throw or load.
    func testTruncatedAndMutatedFilesThrowOrLoad() throws {
        var rng = Random(state: 42)
        for kind in CheckpointFixture.kinds {
            let (format, bytes) = try CheckpointFixture.fileBytes(kind)
            var loaded = 0, thrown = 0
            let cuts = format == TokenizerFormat.sentencePieceModel.rawValue ? Array(stride(from: 0, to: bytes.count, by: 3)) : (0..<300).map { _ in rng.below(bytes.count) }
            var inputs = cuts.map { Array(bytes[..<$0]) }
            for _ in 0..<400 {
                var mutated = bytes
                for _ in 0..<(1 + rng.below(4)) {
                    let at = rng.below(mutated.count)
                    switch rng.below(3) {
                    case 0: mutated[at] = UInt8(rng.below(256))
                    case 1: mutated[at] ^= 0x80
                    default: mutated.insert(0xFF, at: at)
                    }
                }
                inputs.append(mutated)
            }
            for input in inputs {
                do {
                    let tok = try loadTokenizer(format: format, bytes: input)
                    loaded += 1
                    let ids = tok.encode("Hello wörld 日本 \u{1F600} <s> \n\t  x")
                    XCTAssertTrue(ids.allSatisfy { $0 >= 0 && Int($0) < tok.vocabSize }, kind)
                    _ = tok.decode(ids + [0, 1, 2, -1, Int32.max])
                } catch {
                    thrown += 1
                }
            }
            XCTAssertGreaterThan(thrown, 0, kind)
            print("fuzz \(kind): \(inputs.count) hostile files, \(loaded) loaded, \(thrown) threw")
        }
    }

    // MARK: - Protobuf wire errors, one per rule

    private func protoError(_ bytes: [UInt8]) -> String? {
        do {
            _ = try SentencePieceTokenizer(modelProto: bytes)
            return nil
        } catch {
            guard case let .badModelProto(_, reason) = error else { return "wrong case: \(error)" }
            return reason
        }
    }

    /// A varint of 11 bytes, or a 10th byte above 1, overflows 64 bits.
    func testVarintOverflowThrows() {
        XCTAssertEqual(protoError([0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01])?.contains("varint"), true)
        XCTAssertEqual(protoError([0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x02])?.contains("overflows"), true)
    }

    /// A length that runs past the end of the file or of the enclosing message.
    func testLengthPastEndThrows() {
        XCTAssertEqual(protoError([0x0A, 0x05, 0x01])?.contains("past the end"), true)
        XCTAssertEqual(protoError([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F])?.contains("past the end"), true)
        // pieces { piece: length 9 inside a 2-byte message }
        XCTAssertEqual(protoError([0x0A, 0x02, 0x0A, 0x09])?.contains("past the end"), true)
    }

    /// Groups (wire types 3 and 4) are not used by ModelProto and refused.
    func testGroupWireTypeThrows() {
        XCTAssertEqual(protoError([0x0B])?.contains("wire type"), true)
    }

    /// No pieces, no `<unk>`, an empty piece, a duplicate piece: the library refuses them too.
    func testInvalidPieceSetsThrow() {
        func piece(_ text: String, type: UInt8) -> [UInt8] {
            let body: [UInt8] = [0x0A, UInt8(text.utf8.count)] + Array(text.utf8) + [0x15, 0, 0, 0, 0, 0x18, type]
            return [0x0A, UInt8(body.count)] + body
        }
        XCTAssertEqual(protoError([]), "no pieces")
        XCTAssertEqual(protoError(piece("a", type: 1)), "no UNKNOWN piece")
        XCTAssertNotNil(protoError(piece("<unk>", type: 2) + piece("", type: 1)))
        XCTAssertEqual(protoError(piece("<unk>", type: 2) + piece("a", type: 1) + piece("a", type: 1))?.contains("already defined"), true)
        XCTAssertNil(protoError(piece("<unk>", type: 2) + piece("a", type: 1)))
        // byte_fallback (trainer_spec field 35) without the 256 byte pieces.
        XCTAssertEqual(protoError(piece("<unk>", type: 2) + [0x12, 0x03, 0x98, 0x02, 0x01])?.contains("BYTE piece"), true)
    }
}
