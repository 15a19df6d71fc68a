/// Splits text on added tokens the way Hugging Face `tokenizers` does (`AddedVocabulary`):
/// leftmost match first, the longest pattern at that position, no overlaps; then `singleWord`
/// may discard a match, and `lstrip` / `rstrip` widen it over adjacent whitespace.
struct AddedTokenMatcher: Sendable {
    /// A piece of the input: plain text (a byte range) or one added token.
    enum Piece: Equatable {
        case text(Range<Int>)
        case token(Int32)
    }

    private struct Pattern: Sendable {
        var bytes: [UInt8]
        var token: AddedToken
    }

    /// `buckets[b]`: patterns whose first byte is `b`, longest first.
    private let buckets: [[Pattern]]
    let isEmpty: Bool

    /// `patterns`: (literal to match, token); empty literals are ignored.
    init(_ patterns: [(String, AddedToken)]) {
        var buckets = [[Pattern]](repeating: [], count: 256)
        for (literal, token) in patterns where !literal.isEmpty {
            let bytes = Array(literal.utf8)
            buckets[Int(bytes[0])].append(Pattern(bytes: bytes, token: token))
        }
        for b in 0..<256 { buckets[b].sort { $0.bytes.count > $1.bytes.count } }
        self.buckets = buckets
        self.isEmpty = patterns.allSatisfy { $0.0.isEmpty }
    }

    /// The pieces of `bytes[range]` (valid UTF-8), in order; text pieces are never empty.
    func split(_ bytes: [UInt8], _ range: Range<Int>) -> [Piece] {
        if isEmpty { return range.isEmpty ? [] : [.text(range)] }
        var pieces: [Piece] = []
        var textStart = range.lowerBound
        var at = range.lowerBound
        while at < range.upperBound {
            guard let pattern = longestMatch(bytes, at: at, end: range.upperBound) else {
                at += 1
                continue
            }
            var start = at
            var stop = at + pattern.bytes.count
            at = stop
            let token = pattern.token
            if token.singleWord {
                let wordBefore = start > range.lowerBound && Self.isWord(UTF8Scalar.decode(bytes, endingAt: start))
                let wordAfter = stop < range.upperBound && Self.isWord(UTF8Scalar.decode(bytes, at: stop).0)
                if wordBefore || wordAfter { continue }
            }
            if token.lstrip {
                while start > textStart && UTF8Scalar.decode(bytes, endingAt: start).properties.isWhitespace {
                    start -= UTF8Scalar.lengthBefore(bytes, start)
                }
            }
            if token.rstrip {
                while stop < range.upperBound {
                    let (s, length) = UTF8Scalar.decode(bytes, at: stop)
                    guard s.properties.isWhitespace else { break }
                    stop += length
                }
                at = stop
            }
            if textStart < start { pieces.append(.text(textStart..<start)) }
            pieces.append(.token(token.id))
            textStart = stop
        }
        if textStart < range.upperBound { pieces.append(.text(textStart..<range.upperBound)) }
        return pieces
    }

    private func longestMatch(_ bytes: [UInt8], at: Int, end: Int) -> Pattern? {
        for pattern in buckets[Int(bytes[at])] where pattern.bytes.count <= end - at {
            var k = 1
            while k < pattern.bytes.count && bytes[at + k] == pattern.bytes[k] { k += 1 }
            if k == pattern.bytes.count { return pattern }
        }
        return nil
    }

    /// `\w` of the Rust `regex` crate: alphabetic, marks, decimal digits, connector punctuation,
    /// join controls.
    private static func isWord(_ s: Unicode.Scalar) -> Bool {
        let p = s.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            return true
        default:
            return false
        }
    }
}
