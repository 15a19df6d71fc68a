import Foundation
import RillTokenizer
import XCTest

/// The byte-level BPE tokenizer on hostile input: `tokenizer.json` files that load or throw
/// `TokenizerError`, arbitrary bytes to encode, arbitrary ids to decode.
final class TokenizerFuzzTests: XCTestCase {
    /// Uses a loaded tokenizer as `rill run` would: encode, decode, stream-decode, look up.
    static func exercise(_ t: ByteLevelBPETokenizer, text: String, ids: [Int32]) {
        let encoded = t.encode(text)
        _ = t.decode(encoded)
        _ = t.decode(ids, skippingSpecialTokens: true)
        var stream = t.makeStreamingDecoder()
        for id in ids { _ = stream.append(id) }
        _ = stream.flush()
        for id in ids.prefix(8) {
            _ = t.token(forID: id).map { t.id(forToken: $0) }
            _ = t.isSpecialToken(id)
        }
    }

    static let probeText = "Hello, wörld!\n\n  the in 🙂 <|endoftext|>\u{0}\u{7F}é"
    static let probeIDs: [Int32] = [0, 1, 255, 256, 257, 260, 261, 2047, 2048, -1, Int32.max, Int32.min]

    /// Small tokenizers: 40,000 mutated files (about 5 s in release on two cores).
    func testMutatedSmallTokenizerJSONLoadsOrThrows() throws {
        let seeds = [FuzzFixtures.smallTokenizerJSON, FuzzFixtures.smallTokenizerJSONStringMerges]
        let stats = runFuzz("tokenizer.json (small)", seeds: seeds, iterations: 40_000, seed: 0x544F, json: true) { bytes in
            let t = try ByteLevelBPETokenizer(tokenizerJSON: bytes)
            Self.exercise(t, text: Self.probeText, ids: Self.probeIDs)
        }
        XCTAssertGreaterThan(stats.accepted, 0)
        XCTAssertGreaterThan(stats.errorKinds.count, 20)
    }

    /// The fixtures' full tokenizer (124 KB): 2,000 mutated files (about 6 s).
    func testMutatedFixtureTokenizerJSONLoadsOrThrows() throws {
        let seeds = [try fixtureBytes("mamba-tiny/tokenizer.json"), try fixtureBytes("holdout/mamba/tokenizer.json")]
        let stats = runFuzz("tokenizer.json (fixture)", seeds: seeds, iterations: 2_000, seed: 0x5446, json: true) { bytes in
            let t = try ByteLevelBPETokenizer(tokenizerJSON: bytes)
            Self.exercise(t, text: Self.probeText, ids: Self.probeIDs)
        }
        XCTAssertGreaterThan(stats.accepted, 0)
    }

    /// 60,000 arbitrary byte strings (as UTF-8 with replacement, and as valid text around
    /// added tokens) encode, and their ids decode, with the fixture tokenizer.
    func testArbitraryBytesEncodeAndDecode() throws {
        let t = try ByteLevelBPETokenizer(tokenizerJSON: try fixtureBytes("mamba-tiny/tokenizer.json"))
        let seeds: [[UInt8]] = [
            Array(Self.probeText.utf8), Array("<|endoftext|><|endoftext|>".utf8), Array("   \t\n\r\n  x".utf8),
            Array("e\u{301} ﬁ ℌ 𝔘 ﷺ 🇫🇷 👩‍👩‍👧".utf8), [0xF0, 0x9F, 0x99], [0xC3], [0xFF, 0xFE, 0x00, 0x80],
            Array(String(repeating: "a", count: 2000).utf8), Array(String(repeating: " ", count: 500).utf8),
        ]
        let stats = runFuzz("encode", seeds: seeds, iterations: 60_000, seed: 0x454E, maxLength: 8192) { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            let ids = t.encode(text)
            XCTAssertTrue(ids.allSatisfy { $0 >= 0 && Int($0) < t.vocabSize }, "encode gave an id out of range for \(bytes)")
            let back = t.decode(ids)
            if !text.contains("<|") { XCTAssertEqual(back, text, "round trip of \(bytes)") }
        }
        XCTAssertEqual(stats.rejected, 0)
    }

    /// 200,000 arbitrary id sequences (any Int32, including negative and beyond the vocabulary)
    /// decode, in one piece and streamed, without trapping.
    func testArbitraryIDsDecode() throws {
        let t = try ByteLevelBPETokenizer(tokenizerJSON: try fixtureBytes("mamba-tiny/tokenizer.json"))
        let seeds: [[UInt8]] = [
            Self.probeIDs.flatMap { id in withUnsafeBytes(of: id.littleEndian) { Array($0) } },
            (0..<64).flatMap { i in withUnsafeBytes(of: Int32(i * 31).littleEndian) { Array($0) } },
        ]
        _ = runFuzz("decode", seeds: seeds, iterations: 200_000, seed: 0x4445, maxLength: 4096) { bytes in
            let ids = stride(from: 0, to: bytes.count - 3, by: 4).map { (i: Int) -> Int32 in
                Int32(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            }
            Self.exercise(t, text: "", ids: ids)
        }
    }
}
