/// GPT-2's pre-tokenisation regex, as a hand-written scanner over Unicode scalars:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// Alternatives are tried in order at each position (first match wins, each quantifier greedy),
/// and every scalar lands in some piece, so the pieces tile the input. Classes: `\p{L}` is the
/// general categories Lu Ll Lt Lm Lo, `\p{N}` is Nd Nl No, `\s` is the White_Space property;
/// the optional leading space is U+0020 only; contractions are ASCII and case-sensitive.
///
/// `\s+(?!\S)` keeps the last whitespace scalar of a run that is followed by a word for the
/// next piece, so `"a  b"` splits as `a`, ` `, ` b`, and `"x\n\ny"` as `x`, `\n`, `\n`, `y`.
enum GPT2PreTokenizer {
    /// Scalar classes the regex distinguishes.
    enum ScalarClass: UInt8 {
        case letter, number, space, otherWhitespace, other

        var isWhitespace: Bool { self == .space || self == .otherWhitespace }
    }

    static func classify(_ s: Unicode.Scalar) -> ScalarClass {
        let v = s.value
        if v < 0x80 {
            switch v {
            case 0x20: return .space
            case 0x09...0x0D: return .otherWhitespace
            case 0x30...0x39: return .number
            case 0x41...0x5A, 0x61...0x7A: return .letter
            default: return .other
            }
        }
        if s.properties.isWhitespace { return .otherWhitespace }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }

    /// The pieces of `bytes[range]` (valid UTF-8) as byte ranges, in order, tiling the range.
    static func split(_ bytes: [UInt8], _ range: Range<Int>) -> [Range<Int>] {
        // One class and one byte offset per scalar; offsets has a final entry at the end.
        var classes: [ScalarClass] = []
        var offsets: [Int] = []
        classes.reserveCapacity(range.count)
        offsets.reserveCapacity(range.count + 1)
        var at = range.lowerBound
        while at < range.upperBound {
            let (scalar, length) = UTF8Scalar.decode(bytes, at: at)
            classes.append(classify(scalar))
            offsets.append(at)
            at += length
        }
        offsets.append(range.upperBound)

        let n = classes.count
        var pieces: [Range<Int>] = []
        var i = 0
        while i < n {
            let end = pieceEnd(from: i, classes: classes, bytes: bytes, offsets: offsets)
            pieces.append(offsets[i]..<offsets[end])
            i = end
        }
        return pieces
    }

    /// The pieces of `text` as strings (for tests and debugging).
    static func split(_ text: String) -> [String] {
        let bytes = Array(text.utf8)
        return split(bytes, 0..<bytes.count).map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    /// The scalar index one past the piece that starts at scalar `i`.
    private static func pieceEnd(from i: Int, classes: [ScalarClass], bytes: [UInt8], offsets: [Int]) -> Int {
        let n = classes.count
        // 's|'t|'re|'ve|'m|'ll|'d
        if bytes[offsets[i]] == UInt8(ascii: "'"), i + 1 < n {
            let a = bytes[offsets[i + 1]]
            if a == UInt8(ascii: "s") || a == UInt8(ascii: "t") || a == UInt8(ascii: "m") || a == UInt8(ascii: "d") {
                return i + 2
            }
            if i + 2 < n {
                let b = bytes[offsets[i + 2]]
                if (a == UInt8(ascii: "r") || a == UInt8(ascii: "v")) && b == UInt8(ascii: "e")
                    || a == UInt8(ascii: "l") && b == UInt8(ascii: "l") {
                    return i + 3
                }
            }
        }
        //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
        var j = i
        if classes[i] == .space, i + 1 < n, !classes[i + 1].isWhitespace { j = i + 1 }
        let head = classes[j]
        if !head.isWhitespace {
            j += 1
            while j < n && classes[j] == head { j += 1 }
            return j
        }
        // \s+(?!\S) | \s+
        j = i + 1
        while j < n && classes[j].isWhitespace { j += 1 }
        if j < n && j - i >= 2 { return j - 1 }
        return j
    }
}
