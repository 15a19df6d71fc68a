/// A minimal reader for the two large fields of `tokenizer.json`: `model.vocab` and
/// `model.merges`, which hold nearly all of its bytes.
///
/// Why not `JSONDecoder` for these two: on a 3.6 MB file (50k tokens, 50k merges) Foundation's
/// decoder spends ~300 ms on the vocabulary object and ~270 ms on the merges, against ~50 ms to
/// scan the whole document; with this scanner the whole load of that file takes ~100 ms in
/// release instead of ~780 ms. Everything else in the file goes through Codable; this scanner only
/// runs after `JSONDecoder` has accepted the document as JSON, so it has to find its way, not to
/// validate. It still checks every index, bounds counts as it goes and reports a field of the
/// wrong JSON type as `TokenizerError.badJSON` naming the field.
struct JSONFieldScanner {
    private let bytes: [UInt8]
    private var at: Int
    private let end: Int

    private init(_ bytes: [UInt8], _ range: Range<Int>) {
        self.bytes = bytes
        self.at = range.lowerBound
        self.end = range.upperBound
    }

    // MARK: - The two fields

    /// The byte ranges of the values of `model.vocab` and `model.merges`, if present. For a
    /// repeated key the first one counts, as in `JSONDecoder`.
    static func locateModelFields(_ bytes: [UInt8]) throws(TokenizerError) -> (vocab: Range<Int>?, merges: Range<Int>?) {
        var s = JSONFieldScanner(bytes, 0..<bytes.count)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { s.at = 3 }  // UTF-8 byte order mark
        var vocab: Range<Int>?, merges: Range<Int>?
        var seenModel = false
        try s.forEachKey(field: "(root)") { (s: inout JSONFieldScanner, key: String) throws(TokenizerError) in
            guard key == "model", !seenModel, s.peek() == UInt8(ascii: "{") else { return try s.skipValue(field: key) }
            seenModel = true
            try s.forEachKey(field: "model") { (s: inout JSONFieldScanner, key: String) throws(TokenizerError) in
                let start = s.at
                try s.skipValue(field: "model." + key)
                if key == "vocab" && vocab == nil { vocab = start..<s.at }
                if key == "merges" && merges == nil { merges = start..<s.at }
            }
        }
        return (vocab, merges)
    }

    /// `model.vocab`: an object of token → id, entries in file order.
    static func vocab(_ bytes: [UInt8], _ range: Range<Int>, limit: Int) throws(TokenizerError) -> [(String, Int)] {
        var s = JSONFieldScanner(bytes, range)
        var entries: [(String, Int)] = []
        guard s.peek() == UInt8(ascii: "{") else {
            throw .badJSON(field: "model.vocab", reason: "expected an object of token: id")
        }
        try s.forEachKey(field: "model.vocab") { (s: inout JSONFieldScanner, token: String) throws(TokenizerError) in
            guard entries.count < limit else { throw .tooLarge(field: "model.vocab", count: entries.count + 1, limit: limit) }
            entries.append((token, try s.readInt(field: "model.vocab[\"\(token.prefix(64))\"]")))
        }
        return entries
    }

    /// `model.merges`: an array whose entries are `["a", "b"]` or `"a b"`; each entry's parts.
    static func merges(_ bytes: [UInt8], _ range: Range<Int>, limit: Int) throws(TokenizerError) -> [[String]] {
        var s = JSONFieldScanner(bytes, range)
        var merges: [[String]] = []
        try s.forEachElement(field: "model.merges") { (s: inout JSONFieldScanner) throws(TokenizerError) in
            guard merges.count < limit else { throw .tooLarge(field: "model.merges", count: merges.count + 1, limit: limit) }
            let index = merges.count
            func field() -> String { "model.merges[\(index)]" }
            switch s.peek() {
            case UInt8(ascii: "\""):
                let line = try s.readString(field: field())
                merges.append(line.split(separator: " ", omittingEmptySubsequences: false).map(String.init))
            case UInt8(ascii: "["):
                var parts: [String] = []
                try s.forEachElement(field: field()) { (s: inout JSONFieldScanner) throws(TokenizerError) in
                    guard parts.count < 3 else { return try s.skipValue(field: field()) }  // refused later by count
                    parts.append(try s.readString(field: field()))
                }
                merges.append(parts)
            default:
                throw .badJSON(field: field(), reason: "expected a string or an array of two strings")
            }
        }
        return merges
    }

    // MARK: - JSON structure

    private func peek() -> UInt8? { at < end ? bytes[at] : nil }

    private mutating func skipWhitespace() {
        while at < end, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
    }

    private mutating func expect(_ b: UInt8, field: @autoclosure () -> String) throws(TokenizerError) {
        skipWhitespace()
        guard at < end, bytes[at] == b else {
            throw .badJSON(field: field(), reason: "expected '\(Character(Unicode.Scalar(b)))'")
        }
        at += 1
    }

    /// Calls `body` at each value of an object, after reading its key; `body` must consume the value.
    private mutating func forEachKey(field: @autoclosure () -> String, _ body: (inout JSONFieldScanner, String) throws(TokenizerError) -> Void) throws(TokenizerError) {
        try expect(UInt8(ascii: "{"), field: field())
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { at += 1; return }
        while true {
            let key = try readString(field: field())
            try expect(UInt8(ascii: ":"), field: field())
            skipWhitespace()
            try body(&self, key)
            skipWhitespace()
            guard let b = peek() else { throw .badJSON(field: field(), reason: "unterminated object") }
            at += 1
            if b == UInt8(ascii: "}") { return }
            guard b == UInt8(ascii: ",") else { throw .badJSON(field: field(), reason: "expected ',' or '}'") }
            skipWhitespace()
        }
    }

    /// Calls `body` at each element of an array; `body` must consume the element.
    private mutating func forEachElement(field: @autoclosure () -> String, _ body: (inout JSONFieldScanner) throws(TokenizerError) -> Void) throws(TokenizerError) {
        skipWhitespace()
        guard peek() == UInt8(ascii: "[") else { throw .badJSON(field: field(), reason: "expected an array") }
        at += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "]") { at += 1; return }
        while true {
            skipWhitespace()
            try body(&self)
            skipWhitespace()
            guard let b = peek() else { throw .badJSON(field: field(), reason: "unterminated array") }
            at += 1
            if b == UInt8(ascii: "]") { return }
            guard b == UInt8(ascii: ",") else { throw .badJSON(field: field(), reason: "expected ',' or ']'") }
        }
    }

    /// Skips one value of any type without building it: strings are stepped over, brackets
    /// counted. (`JSONDecoder` has already accepted the document, so brackets balance.)
    private mutating func skipValue(field: @autoclosure () -> String) throws(TokenizerError) {
        skipWhitespace()
        var depth = 0
        repeat {
            guard at < end else { throw .badJSON(field: field(), reason: "unexpected end") }
            switch bytes[at] {
            case UInt8(ascii: "\""):
                _ = try stringEnd(field: field())
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                at += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                at += 1
            default:  // numbers, true, false, null, and between elements ',' ':' and whitespace
                at += 1
                if depth == 0 {
                    while at < end, !Self.endsScalar(bytes[at]) { at += 1 }
                }
            }
        } while depth > 0
    }

    /// A byte that ends a number or literal.
    private static func endsScalar(_ b: UInt8) -> Bool {
        b == UInt8(ascii: ",") || b == UInt8(ascii: "]") || b == UInt8(ascii: "}")
            || b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09
    }

    // MARK: - Scalars

    /// An integer without fraction or exponent (token ids).
    private mutating func readInt(field: @autoclosure () -> String) throws(TokenizerError) -> Int {
        skipWhitespace()
        let negative = peek() == UInt8(ascii: "-")
        if negative { at += 1 }
        var value = 0, digits = 0
        while at < end, bytes[at] >= UInt8(ascii: "0"), bytes[at] <= UInt8(ascii: "9") {
            guard digits < 18 else { throw .badJSON(field: field(), reason: "integer too long") }
            value = value * 10 + Int(bytes[at] - UInt8(ascii: "0"))
            digits += 1
            at += 1
        }
        guard digits > 0, at >= end || Self.endsScalar(bytes[at]) else {
            throw .badJSON(field: field(), reason: "expected an integer id")
        }
        return negative ? -value : value
    }

    /// The index one past the closing quote of the string starting at `at`; `at` moves there.
    /// Also reports whether the string has escapes.
    private mutating func stringEnd(field: @autoclosure () -> String) throws(TokenizerError) -> (end: Int, escaped: Bool) {
        guard peek() == UInt8(ascii: "\"") else { throw .badJSON(field: field(), reason: "expected a string") }
        at += 1
        var escaped = false
        while at < end {
            switch bytes[at] {
            case UInt8(ascii: "\""):
                at += 1
                return (at, escaped)
            case UInt8(ascii: "\\"):
                escaped = true
                at += 2
            default:
                at += 1
            }
        }
        throw .badJSON(field: field(), reason: "unterminated string")
    }

    private mutating func readString(field: @autoclosure () -> String) throws(TokenizerError) -> String {
        skipWhitespace()
        let start = at + 1
        let (stop, escaped) = try stringEnd(field: field())
        guard escaped else { return String(decoding: bytes[start..<(stop - 1)], as: UTF8.self) }
        return try Self.unescape(bytes[start..<(stop - 1)], field: field())
    }

    /// Resolves `\" \\ \/ \b \f \n \r \t \uXXXX` (surrogate pairs joined; a lone one is U+FFFD,
    /// though `TokenizerJSON.decode` has refused lone ones already, with `checkJSONBytes`).
    private static func unescape(_ raw: ArraySlice<UInt8>, field: @autoclosure () -> String) throws(TokenizerError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        func hex4(_ i: Int) throws(TokenizerError) -> UInt32 {
            guard i + 4 <= raw.endIndex else { throw .badJSON(field: field(), reason: "short \\u escape") }
            var v: UInt32 = 0
            for b in raw[i..<(i + 4)] {
                let d: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
                default: throw .badJSON(field: field(), reason: "bad \\u escape")
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        while i < raw.endIndex {
            let b = raw[i]
            guard b == UInt8(ascii: "\\"), i + 1 < raw.endIndex else {
                out.append(b)
                i += 1
                continue
            }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4(i)
                i += 4
                if (0xD800..<0xDC00).contains(v), i + 6 <= raw.endIndex,
                   raw[i] == UInt8(ascii: "\\"), raw[i + 1] == UInt8(ascii: "u") {
                    let low = try hex4(i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        v = 0x10000 + (v - 0xD800) << 10 + (low - 0xDC00)
                        i += 6
                    }
                }
                out.append(contentsOf: UTF8.encode(Unicode.Scalar(v) ?? "\u{FFFD}")!)
            default: out.append(e)  // \" \\ \/
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
