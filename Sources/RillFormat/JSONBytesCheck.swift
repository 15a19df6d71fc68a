import Foundation

// MARK: - Checking JSON bytes before JSONDecoder

/// Why bytes were refused by ``checkJSONBytes(_:)``; `offset` is the byte offset (from 0) of
/// the first offending byte (for an escape, of its backslash).
public enum JSONBytesError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A byte sequence that is not UTF-8 (Unicode 15, table 3-7: no overlong forms, no
    /// encoded surrogates, nothing above U+10FFFF).
    case invalidUTF8(offset: Int)
    /// A zero byte. JSON text never holds one (a U+0000 in a string is written `\u0000`), and
    /// Foundation takes zero bytes near the start for UTF-16 or UTF-32 text.
    case zeroByte(offset: Int)
    /// A byte below 0x20 inside a string, where JSON requires an escape (`\n`, `\u0001`).
    case controlCharacter(offset: Int)
    /// A backslash in a string followed by something other than `" \ / b f n r t` or `u` with
    /// four hexadecimal digits.
    case badEscape(offset: Int)
    /// `\uD800`…`\uDBFF` not followed at once by a `\uDC00`…`\uDFFF` escape.
    case loneHighSurrogate(offset: Int)
    /// `\uDC00`…`\uDFFF` that does not follow a high surrogate escape.
    case loneLowSurrogate(offset: Int)

    public var description: String {
        switch self {
        case let .invalidUTF8(offset): return "invalid UTF-8 at byte \(offset)"
        case let .zeroByte(offset): return "a zero byte at byte \(offset) (JSON must be UTF-8 text)"
        case let .controlCharacter(offset): return "an unescaped control character in a string at byte \(offset)"
        case let .badEscape(offset): return "an invalid escape sequence at byte \(offset)"
        case let .loneHighSurrogate(offset): return "a \\u escape of a high surrogate without its low surrogate at byte \(offset)"
        case let .loneLowSurrogate(offset): return "a \\u escape of a low surrogate without a high surrogate before it at byte \(offset)"
        }
    }
}

/// Refuses JSON bytes that Swift 6.0's Foundation `JSONDecoder` would stop the process on.
///
/// That decoder (swift-foundation 6.0.x, Debian trixie's Swift 6.0.3, which builds the arm64
/// binary) reads object keys through `try!`, so a key with invalid UTF-8
/// (`cannotConvertInputStringDataToUTF8`), a lone surrogate escape
/// (`expectedLowSurrogateUTF8SequenceAfterHighSurrogate`) or a raw control character
/// (`unescapedControlCharacterInString`) is a `fatalError`, not an error (all three stopped
/// the fuzz tests on 6.0.3); the host's Swift 6.3.1 throws. Every reader of untrusted JSON
/// calls this first and turns the error into its own, naming the file and field.
///
/// Checks, in one pass: the whole text is UTF-8 without zero bytes (so Foundation reads it as
/// UTF-8, not as UTF-16/32); in every string, no byte is below 0x20, each escape is valid, and
/// each `\uD800`…`\uDBFF` is followed at once by a `\uDC00`…`\uDFFF` escape, with no other
/// low surrogate escape (`\\u` is an escaped backslash and a plain `u`). A UTF-8 byte-order
/// mark passes. Anything else is left to `JSONDecoder`, which throws on it; this is no JSON
/// parser (strings are found by their quotes, which is enough for valid JSON and harmless for
/// invalid JSON). Linear time, no allocation.
public func checkJSONBytes(_ bytes: some ContiguousBytes) throws(JSONBytesError) {
    let failure: JSONBytesError? = bytes.withUnsafeBytes { firstJSONBytesError($0) }
    if let failure { throw failure }
}

private func firstJSONBytesError(_ p: UnsafeRawBufferPointer) -> JSONBytesError? {
    let n = p.count
    var i = 0
    var inString = false
    while i < n {
        let b = p[i]
        if b >= 0x80 {
            guard let length = utf8SequenceLength(p, at: i) else { return .invalidUTF8(offset: i) }
            i += length
            continue
        }
        if b == 0 { return .zeroByte(offset: i) }
        if b < 0x20 && inString { return .controlCharacter(offset: i) }
        if b == UInt8(ascii: "\"") {
            inString.toggle()
        } else if b == UInt8(ascii: "\\") && inString {
            guard i + 1 < n else { return .badEscape(offset: i) }
            switch p[i + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                 UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                i += 2
            case UInt8(ascii: "u"):
                guard let unit = hexUnit(p, at: i + 2) else { return .badEscape(offset: i) }
                switch unit {
                case 0xD800...0xDBFF:
                    // The pair must be `\uD8xx\uDCxx`, nothing between.
                    guard i + 7 < n, p[i + 6] == UInt8(ascii: "\\"), p[i + 7] == UInt8(ascii: "u"),
                          let low = hexUnit(p, at: i + 8), (0xDC00...0xDFFF).contains(low)
                    else { return .loneHighSurrogate(offset: i) }
                    i += 12
                case 0xDC00...0xDFFF:
                    return .loneLowSurrogate(offset: i)
                default:
                    i += 6
                }
            default:
                return .badEscape(offset: i)
            }
            continue
        }
        i += 1
    }
    return nil
}

/// The length of the well-formed UTF-8 sequence starting at `p[i]` (a byte ≥ 0x80), or nil.
/// Ranges from the Unicode Standard, table 3-7 (well-formed UTF-8 byte sequences).
private func utf8SequenceLength(_ p: UnsafeRawBufferPointer, at i: Int) -> Int? {
    let b0 = p[i]
    let length: Int
    var second: ClosedRange<UInt8> = 0x80...0xBF
    switch b0 {
    case 0xC2...0xDF: length = 2
    case 0xE0: length = 3; second = 0xA0...0xBF
    case 0xE1...0xEC, 0xEE...0xEF: length = 3
    case 0xED: length = 3; second = 0x80...0x9F  // not U+D800…U+DFFF
    case 0xF0: length = 4; second = 0x90...0xBF
    case 0xF1...0xF3: length = 4
    case 0xF4: length = 4; second = 0x80...0x8F  // not above U+10FFFF
    default: return nil  // 0x80…0xC1 (continuation, overlong 2-byte), 0xF5…0xFF
    }
    guard i + length <= p.count, second.contains(p[i + 1]) else { return nil }
    for k in 2..<length where !(0x80...0xBF).contains(p[i + k]) { return nil }
    return length
}

/// The UTF-16 code unit of the four hexadecimal digits at `p[i..<i+4]`, or nil.
private func hexUnit(_ p: UnsafeRawBufferPointer, at i: Int) -> UInt16? {
    guard i + 4 <= p.count else { return nil }
    var v: UInt16 = 0
    for k in 0..<4 {
        let c = p[i + k]
        let d: UInt8
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
        default: return nil
        }
        v = v << 4 | UInt16(d)
    }
    return v
}
