/// The decoded bytes of every token id, packed: token `i` is `bytes[offsets[i]..<offsets[i+1]]`.
///
/// Built once at load so that decoding a token is a copy, with no per-token string work.
struct TokenBytesTable: Sendable {
    private let bytes: [UInt8]
    /// count: number of ids + 1.
    private let offsets: [Int]

    /// `tokens[i]`'s bytes as the `ByteLevel` decoder of `tokenizers` gives them: each character
    /// through the inverse byte map, or, if one is outside the map, the token's own UTF-8.
    /// Unassigned ids (`nil`) decode to nothing.
    init(byteLevelTokens tokens: [String?]) {
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        offsets.reserveCapacity(tokens.count + 1)
        for token in tokens {
            if let token {
                let start = bytes.count
                for s in token.unicodeScalars {
                    guard s.value < 324, ByteUnicodeMap.byte[Int(s.value)] >= 0 else {
                        bytes.removeSubrange(start...)
                        bytes += token.utf8
                        break
                    }
                    bytes.append(UInt8(ByteUnicodeMap.byte[Int(s.value)]))
                }
            }
            offsets.append(bytes.count)
        }
        self.bytes = bytes
        self.offsets = offsets
    }

    /// `tokens[i]`'s bytes as given; `nil` (unassigned) decodes to nothing.
    init(tokenBytes tokens: [[UInt8]?]) {
        var bytes: [UInt8] = []
        var offsets: [Int] = [0]
        offsets.reserveCapacity(tokens.count + 1)
        for token in tokens {
            if let token { bytes += token }
            offsets.append(bytes.count)
        }
        self.bytes = bytes
        self.offsets = offsets
    }

    /// The bytes of `id` (empty for ids out of range).
    @inline(__always) subscript(id: Int32) -> ArraySlice<UInt8> {
        let i = Int(id)
        guard i >= 0 && i + 1 < offsets.count else { return [] }
        return bytes[offsets[i]..<offsets[i + 1]]
    }

    @inline(__always) func append(_ id: Int32, to out: inout [UInt8]) {
        let i = Int(id)
        guard i >= 0 && i + 1 < offsets.count else { return }
        out.append(contentsOf: bytes[offsets[i]..<offsets[i + 1]])
    }
}
