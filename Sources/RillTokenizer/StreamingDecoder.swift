/// Decodes tokens one at a time for printing, never splitting a UTF-8 character.
///
/// Byte-level tokens can end in the middle of a multi-byte character (an emoji is often two or
/// three tokens). `append` returns the text of every complete character so far and holds back
/// a tail that is a valid but unfinished UTF-8 sequence (at most 3 bytes) until a later token
/// completes it. Bytes that can never become valid are returned at once as U+FFFD, so the
/// concatenation of all `append` results and `flush()` equals `decode` of all the ids.
///
/// Per token: the token's bytes are appended to a small buffer that keeps its capacity, and the
/// returned `String` is built; nothing else is allocated.
public struct StreamingDecoder: Sendable {
    private let tokenizer: any Tokenizer
    private let skippingSpecialTokens: Bool
    /// Bytes not yet returned: at most an unfinished character between calls.
    private var pending: [UInt8] = []
    /// Position in the text, for decoders that treat its start specially.
    private var state = DecodeState()

    /// A decoder over `tokenizer`; special tokens print as their content unless `skippingSpecialTokens`.
    public init(tokenizer: any Tokenizer, skippingSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skippingSpecialTokens = skippingSpecialTokens
        pending.reserveCapacity(64)
    }

    /// Whether an unfinished character is held back.
    public var hasPendingBytes: Bool { !pending.isEmpty }

    /// The complete characters that `id` finishes (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        if skippingSpecialTokens && tokenizer.isSpecialToken(id) { return "" }
        tokenizer.appendDecodedBytes(of: id, to: &pending, state: &state)
        let ready = UTF8Tail.completePrefixLength(pending)
        if ready == 0 { return "" }
        let text = String(decoding: pending[..<ready], as: UTF8.self)
        pending.removeFirst(ready)
        return text
    }

    /// Whatever is held back, with an unfinished character as U+FFFD; the decoder is then empty
    /// and the next token starts a new text.
    public mutating func flush() -> String {
        defer {
            pending.removeAll(keepingCapacity: true)
            state = DecodeState()
        }
        return String(decoding: pending, as: UTF8.self)
    }
}

/// Where a byte buffer can be cut without splitting a UTF-8 character.
enum UTF8Tail {
    /// The length of the longest prefix of `bytes` that does not end inside a valid but
    /// unfinished UTF-8 sequence. Invalid bytes count as complete (they decode to U+FFFD).
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // The last lead byte: step back over at most 3 continuation bytes.
        var start = n - 1
        while start >= 0 && n - start <= 3 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        guard start >= 0 else { return n }
        let lead = bytes[start]
        let needed: Int
        switch lead {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return n  // ASCII or a byte that starts nothing
        }
        let have = n - start
        if have >= needed { return n }
        // Held back only if the bytes so far can still become a valid character.
        if have >= 2 && !secondByteAllowed(lead: lead, bytes[start + 1]) { return n }
        return start
    }

    /// The Unicode table of well-formed byte sequences restricts the second byte after some leads.
    private static func secondByteAllowed(lead: UInt8, _ b: UInt8) -> Bool {
        switch lead {
        case 0xE0: return (0xA0...0xBF).contains(b)
        case 0xED: return (0x80...0x9F).contains(b)
        case 0xF0: return (0x90...0xBF).contains(b)
        case 0xF4: return (0x80...0x8F).contains(b)
        default: return (0x80...0xBF).contains(b)
        }
    }
}
