/// SentencePiece's `normalizer::Normalizer`: the text a `tokenizer.model` encodes.
///
/// Steps, on UTF-8 bytes: at each position take the longest user-defined piece (kept as is),
/// else the longest match of the precompiled character map (`precompiled_charsmap`: a
/// Darts-clone double-array trie, then NUL-terminated replacement strings), else one character
/// (an invalid byte becomes U+FFFD). With `remove_extra_whitespaces`, leading spaces are
/// skipped, a space after a space is dropped, and trailing spaces are cut; `escape_whitespaces`
/// writes `▁` for each space; `add_dummy_prefix` puts one `▁` in front of non-empty text.
struct SentencePieceNormalizer: Sendable {
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool
    /// The double-array units of the character map; empty for the identity map.
    private let units: [UInt32]
    /// The replacement strings the trie's values point into.
    private let replacements: [UInt8]
    /// User-defined pieces, matched longest first before the character map.
    private let userDefined: PieceTrie
    private let hasUserDefined: Bool

    private static let space = Array("\u{2581}".utf8)

    init(_ proto: SentencePieceModelProto, userDefined pieces: [[UInt8]]) throws(TokenizerError) {
        addDummyPrefix = proto.addDummyPrefix
        removeExtraWhitespaces = proto.removeExtraWhitespaces
        escapeWhitespaces = proto.escapeWhitespaces
        var trie = PieceTrie()
        for (i, p) in pieces.enumerated() { _ = trie.insert(p, id: Int32(i)) }
        userDefined = trie
        hasUserDefined = !pieces.isEmpty
        let map = proto.precompiledCharsmap
        if map.isEmpty {
            units = []
            replacements = []
        } else {
            // Layout: trie size in bytes (u32 little-endian), the trie's u32 units, the strings.
            guard map.count >= 4 else {
                throw .badModelProto(field: "normalizer_spec.precompiled_charsmap", reason: "\(map.count) bytes is too short")
            }
            // Typed as UInt32 first: `Int(a | b << 8 | ...)` takes Swift 6.0 seconds to type-check.
            let trieSize: UInt32 = UInt32(map[0]) | UInt32(map[1]) << 8 | UInt32(map[2]) << 16 | UInt32(map[3]) << 24
            let trieBytes = Int(trieSize)
            guard trieBytes % 4 == 0, trieBytes >= 4, trieBytes <= map.count - 4 else {
                throw .badModelProto(field: "normalizer_spec.precompiled_charsmap", reason: "trie size \(trieBytes) does not fit in \(map.count - 4) bytes")
            }
            units = stride(from: 4, to: 4 + trieBytes, by: 4).map { (i: Int) -> UInt32 in
                UInt32(map[i]) | UInt32(map[i + 1]) << 8 | UInt32(map[i + 2]) << 16 | UInt32(map[i + 3]) << 24
            }
            replacements = Array(map[(4 + trieBytes)...])
        }
    }

    /// `string_util::OneCharLen`: the length a lead byte announces (1 for a stray byte).
    static func oneCharLength(_ b: UInt8) -> Int {
        switch b >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }

    /// The length of the longest user-defined piece at `s[at...]`, if any.
    func userDefinedMatch(_ s: [UInt8], at: Int) -> Int? {
        guard hasUserDefined else { return nil }
        var longest: Int?
        userDefined.forEachPrefix(of: s, from: at) { end, _ in longest = end - at }
        return longest
    }

    /// The normalised text of `input` (UTF-8 of a `String`).
    func normalize(_ input: [UInt8]) -> [UInt8] {
        var at = 0
        if removeExtraWhitespaces {
            while at < input.count {
                let (piece, consumed) = prefix(input, at)
                guard piece.elementsEqual([UInt8(ascii: " ")]) else { break }
                at += consumed
            }
        }
        guard at < input.count else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(input.count * 3 / 2 + 3)
        if addDummyPrefix { out += escapeWhitespaces ? Self.space : [UInt8(ascii: " ")] }
        var previousWasSpace = removeExtraWhitespaces
        while at < input.count {
            let (piece, consumed) = prefix(input, at)
            var bytes = piece[...]
            while previousWasSpace && bytes.first == UInt8(ascii: " ") { bytes = bytes.dropFirst() }
            if !bytes.isEmpty {
                for b in bytes {
                    if escapeWhitespaces && b == UInt8(ascii: " ") { out += Self.space } else { out.append(b) }
                }
                previousWasSpace = bytes.last == UInt8(ascii: " ")
            }
            at += consumed
            if !removeExtraWhitespaces { previousWasSpace = false }
        }
        if removeExtraWhitespaces {
            let tail = escapeWhitespaces ? Self.space : [UInt8(ascii: " ")]
            while out.count >= tail.count && out.suffix(tail.count).elementsEqual(tail) { out.removeLast(tail.count) }
        }
        return out
    }

    /// `Normalizer::NormalizePrefix`: the normalised bytes of the text at `at`, and how many
    /// input bytes they replace (at least 1).
    private func prefix(_ s: [UInt8], _ at: Int) -> ([UInt8], Int) {
        if let length = userDefinedMatch(s, at: at) { return (Array(s[at..<(at + length)]), length) }
        if !units.isEmpty, let (value, length) = longestCharsmapMatch(s, at) {
            var end = value
            while end < replacements.count && replacements[end] != 0 { end += 1 }
            return (Array(replacements[value..<end]), length)
        }
        let length = min(Self.oneCharLength(s[at]), s.count - at)
        return (Array(s[at..<(at + length)]), length)
    }

    /// Darts-clone `commonPrefixSearch`, keeping the longest match: (string offset, key length).
    /// A unit index outside the array ends the search, so a hostile map cannot trap.
    private func longestCharsmapMatch(_ s: [UInt8], _ at: Int) -> (Int, Int)? {
        @inline(__always) func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }
        @inline(__always) func label(_ u: UInt32) -> UInt32 { u & ((1 << 31) | 0xFF) }
        @inline(__always) func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }
        @inline(__always) func value(_ u: UInt32) -> Int { Int(u & ((1 << 31) - 1)) }
        var node = offset(units[0])
        var best: (Int, Int)?
        var i = at
        while i < s.count {
            node ^= Int(s[i])
            guard node >= 0 && node < units.count else { break }
            let unit = units[node]
            guard label(unit) == UInt32(s[i]) else { break }
            node ^= offset(unit)
            guard node >= 0 && node < units.count else { break }
            if hasLeaf(unit) {
                let v = value(units[node])
                if v < replacements.count { best = (v, i + 1 - at) }
            }
            i += 1
        }
        return best
    }
}
