import Foundation
import RillTokenizer

// Input: a mode byte, then
//   0: a `tokenizer.json` to load (and, if it loads, to encode and decode a probe with);
//   1: bytes to encode (as UTF-8 with replacement) with the fixtures' tokenizer, then decode;
//   2: little-endian Int32 ids to decode with the fixtures' tokenizer, whole and streamed.

func fuzzSeeds() throws -> [[UInt8]] {
    [[0] + FuzzFixtures.smallTokenizerJSON, [0] + FuzzFixtures.smallTokenizerJSONStringMerges,
     [1] + Array("Hello, wörld!\n\n  the in 🙂 <|endoftext|>é".utf8), [1, 0xF0, 0x9F, 0x99, 0xC3, 0xFF],
     [2] + [0, 1, 255, 256, 2047, 2048, -1, Int32.max, Int32.min].flatMap { (id: Int32) in withUnsafeBytes(of: id.littleEndian) { Array($0) } }]
}

nonisolated(unsafe) let fixtureTokenizer = try! ByteLevelBPETokenizer(tokenizerJSON: try! fixtureBytes("mamba-tiny/tokenizer.json"))

func exercise(_ t: ByteLevelBPETokenizer, text: String, ids: [Int32]) {
    _ = t.decode(t.encode(text))
    _ = t.decode(ids, skippingSpecialTokens: true)
    var stream = t.makeStreamingDecoder()
    for id in ids { _ = stream.append(id) }
    _ = stream.flush()
    for id in ids.prefix(8) { _ = t.token(forID: id).map { t.id(forToken: $0) } }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let mode = bytes.first else { return 0 }
    let rest = Array(bytes.dropFirst())
    switch mode % 3 {
    case 0:
        if let t = try? ByteLevelBPETokenizer(tokenizerJSON: rest) {
            exercise(t, text: "Hello, wörld!\n the in 🙂 <|endoftext|>", ids: [0, 1, 255, 256, 260, 261, -1, Int32.max])
        }
    case 1:
        exercise(fixtureTokenizer, text: String(decoding: rest, as: UTF8.self), ids: [])
    default:
        let ids = stride(from: 0, to: rest.count - 3, by: 4).map { i in
            Int32(bitPattern: UInt32(rest[i]) | UInt32(rest[i + 1]) << 8 | UInt32(rest[i + 2]) << 16 | UInt32(rest[i + 3]) << 24)
        }
        exercise(fixtureTokenizer, text: "", ids: ids)
    }
    return 0
}
