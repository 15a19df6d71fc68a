/// A JSON value passed to a chat template as an extra variable (`tools`, `date_string`,
/// `enable_thinking`, …). Objects keep their key order, which `tojson` and `.items()` show.
public indirect enum ChatTemplateValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([ChatTemplateValue])
    /// Members in order; a repeated key keeps its first place and its last value, as Python's
    /// `json.loads` does.
    case object([(key: String, value: ChatTemplateValue)])

    public static func == (a: ChatTemplateValue, b: ChatTemplateValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value as the template sees it: arrays are lists, objects dicts.
    var jinjaValue: JinjaValue {
        switch self {
        case .null: return .none
        case let .bool(b): return .bool(b)
        case let .int(i): return .int(i)
        case let .double(d): return .float(d)
        case let .string(s): return .string(s)
        case let .array(items): return .list(JinjaList(items.map(\.jinjaValue)))
        case let .object(members):
            var d = JinjaDict()
            for (k, v) in members { d.set(.string(k), v.jinjaValue) }
            return .dict(d)
        }
    }

    /// Parses JSON text (RFC 8259; also Python's `NaN`, `Infinity`, `-Infinity`). Numbers
    /// without a fraction or exponent that fit 64 bits are `.int`, others `.double`. Nesting
    /// deeper than `maxDepth` fails, so hostile input cannot exhaust the stack. Errors are
    /// `ChatTemplateError.syntax` with the line and column in the JSON text.
    public init(json bytes: some Collection<UInt8>, maxDepth: Int = 64) throws(ChatTemplateError) {
        var parser = JSONValueParser(bytes: Array(bytes), maxDepth: maxDepth)
        parser.skipSpace()
        self = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.i == parser.b.count else { throw parser.error("end of JSON") }
    }
}

extension ChatTemplateValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: ChatTemplateValue...) { self = .array(elements) }
    /// Keeps the literal's order.
    public init(dictionaryLiteral elements: (String, ChatTemplateValue)...) {
        self = .object(elements.map { (key: $0.0, value: $0.1) })
    }
}

// MARK: - JSON reader

private struct JSONValueParser {
    let b: [UInt8]
    let maxDepth: Int
    var i = 0

    init(bytes: [UInt8], maxDepth: Int) {
        b = bytes
        self.maxDepth = maxDepth
    }

    func error(_ expected: String) -> ChatTemplateError {
        var line = 1
        var column = 1
        for byte in b[..<min(i, b.count)] {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        let found = i < b.count ? "'\(String(decoding: b[i..<min(i + 12, b.count)], as: UTF8.self))'" : "end of JSON"
        return .syntax(location: SourceLocation(line: line, column: column), expected: expected, found: found)
    }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    mutating func literal(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard i + w.count <= b.count, b[i..<(i + w.count)].elementsEqual(w) else { return false }
        i += w.count
        return true
    }

    mutating func value(depth: Int) throws(ChatTemplateError) -> ChatTemplateValue {
        guard depth < maxDepth else { throw error("JSON nested at most \(maxDepth) deep") }
        guard i < b.count else { throw error("a JSON value") }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var members: [(key: String, value: ChatTemplateValue)] = []
            var seen: [String: Int] = [:]
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") {
                i += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw error("a string key") }
                let key = try string()
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw error("':'") }
                i += 1
                skipSpace()
                let v = try value(depth: depth + 1)
                if let at = seen[key] { members[at].value = v } else {
                    seen[key] = members.count
                    members.append((key, v))
                }
                skipSpace()
                guard i < b.count else { throw error("',' or '}'") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                guard b[i] == UInt8(ascii: "}") else { throw error("',' or '}'") }
                i += 1
                return .object(members)
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [ChatTemplateValue] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < b.count else { throw error("',' or ']'") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                guard b[i] == UInt8(ascii: "]") else { throw error("',' or ']'") }
                i += 1
                return .array(items)
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        default:
            if literal("true") { return .bool(true) }
            if literal("false") { return .bool(false) }
            if literal("null") { return .null }
            if literal("NaN") { return .double(.nan) }
            if literal("Infinity") { return .double(.infinity) }
            if literal("-Infinity") { return .double(-.infinity) }
            return try number()
        }
    }

    mutating func number() throws(ChatTemplateError) -> ChatTemplateValue {
        let start = i
        var isInteger = true
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        let bytes = b
        let digits = { (p: Int) in p < bytes.count && bytes[p] >= 0x30 && bytes[p] <= 0x39 }
        guard digits(i) else { throw error("a JSON value") }
        if b[i] == 0x30 { i += 1 } else { while digits(i) { i += 1 } }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            guard digits(i) else { throw error("digits after '.'") }
            while digits(i) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard digits(i) else { throw error("exponent digits") }
            while digits(i) { i += 1 }
        }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        if isInteger, let v = Int(text) { return .int(v) }
        guard let d = Double(text) else { throw error("a number") }
        return .double(d)
    }

    mutating func hex4() throws(ChatTemplateError) -> UInt32 {
        guard i + 4 <= b.count else { throw error("four hex digits") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("four hex digits")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    mutating func string() throws(ChatTemplateError) -> String {
        i += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard i < b.count else { throw error("closing '\"'") }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                break
            }
            guard c >= 0x20 else { throw error("an escaped control character") }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < b.count else { throw error("an escape") }
            let e = b[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if v >= 0xD800 && v < 0xDC00, i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                    let save = i
                    i += 2
                    let low = try hex4()
                    if low >= 0xDC00 && low < 0xE000 {
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        i = save
                    }
                }
                // A lone surrogate cannot be a Swift String: U+FFFD, as a lossy decoder would.
                let scalar = Unicode.Scalar(v) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                throw error("a valid escape")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
