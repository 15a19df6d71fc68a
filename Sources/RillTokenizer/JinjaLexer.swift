// Jinja lexer: template text → tokens, with jinja2's whitespace rules under transformers'
// settings (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False). Mirrors
// jinja2/lexer.py (3.1): the same token kinds, the same order of token rules, the same
// handling of `-` / `+` on tags.

// MARK: - Source

/// A template's text as jinja2 sees it: `\r\n` and `\r` become `\n`, and one final newline is
/// dropped (`keep_trailing_newline=False`). Offsets are indices into `scalars`.
struct JinjaSource: Sendable {
    let scalars: [Unicode.Scalar]
    /// Offset of the first scalar of each line; `lineStarts[0] == 0`.
    let lineStarts: [Int]

    init(_ text: String) {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.unicodeScalars.count)
        var previousWasCR = false
        for c in text.unicodeScalars {
            if c == "\r" {
                out.append("\n")
                previousWasCR = true
                continue
            }
            if c == "\n" && previousWasCR {
                previousWasCR = false
                continue
            }
            previousWasCR = false
            out.append(c)
        }
        if out.last == "\n" { out.removeLast() }
        scalars = out
        var starts = [0]
        for (i, c) in out.enumerated() where c == "\n" { starts.append(i + 1) }
        lineStarts = starts
    }

    func location(_ offset: Int) -> SourceLocation {
        // Last line start <= offset.
        var lo = 0
        var hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return SourceLocation(line: lo + 1, column: offset - lineStarts[lo] + 1)
    }

    func string(_ range: Range<Int>) -> String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars[range])
        return String(s)
    }
}

// MARK: - Tokens

struct JinjaToken: Sendable {
    enum Kind: Sendable, Equatable {
        /// Template text outside tags, already trimmed by the whitespace rules.
        case text(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        /// A string literal, escapes decoded.
        case string(String)
        case integer(Int)
        case float(Double)
        /// An operator or punctuation: `+ - * / // % ** ~ ( ) [ ] { } == != < <= > >= = . : | , ;`.
        case op(String)
        case eof
    }

    var kind: Kind
    var offset: Int

    /// How a syntax error names the token, close to jinja2's wording.
    var described: String {
        switch kind {
        case let .text(t): return "template text '\(t.prefix(20))'"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "end of print statement '}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "end of statement block '%}'"
        case let .name(n): return "'\(n)'"
        case let .string(s): return "string '\(s.prefix(20))'"
        case let .integer(i): return "integer \(i)"
        case let .float(f): return "float \(f)"
        case let .op(o): return "'\(o)'"
        case .eof: return "end of template"
        }
    }
}

// MARK: - Lexer

/// Python's `str.isspace()` / regex `\s` over one scalar.
func isPythonWhitespace(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
        return true
    default:
        return false
    }
}

struct JinjaLexer {
    private let source: JinjaSource
    private let s: [Unicode.Scalar]
    private var tokens: [JinjaToken] = []
    /// jinja2's `line_starting`: the last thing consumed ended with a newline (true at the start).
    private var lineStarting = true

    static func tokenize(_ source: JinjaSource) throws(ChatTemplateError) -> [JinjaToken] {
        var lexer = JinjaLexer(source: source)
        try lexer.run()
        lexer.tokens.append(JinjaToken(kind: .eof, offset: source.scalars.count))
        return lexer.tokens
    }

    private init(source: JinjaSource) {
        self.source = source
        self.s = source.scalars
    }

    private func syntax(_ offset: Int, expected: String, found: String) -> ChatTemplateError {
        .syntax(location: source.location(offset), expected: expected, found: found)
    }

    /// Whether the ASCII `literal` is at `i`. (A `StaticString`'s bytes, not a `String`'s
    /// scalars: this runs at every position of every tag.)
    private func starts(_ literal: StaticString, at i: Int) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard i + n <= s.count else { return false }
        let bytes = literal.utf8Start
        for k in 0..<n where s[i + k].value != UInt32(bytes[k]) { return false }
        return true
    }

    private func skipWhitespace(_ i: Int) -> Int {
        var j = i
        while j < s.count, isPythonWhitespace(s[j]) { j += 1 }
        return j
    }

    private mutating func emitText(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        tokens.append(JinjaToken(kind: .text(source.string(range)), offset: range.lowerBound))
    }

    /// The end of template text before a tag, after the tag's whitespace control: `-` strips
    /// all whitespace before it; otherwise (unless `+`, and never before `{{`) lstrip_blocks
    /// removes spaces and tabs between the line's start and the tag.
    private func trimmedTextEnd(_ start: Int, _ end: Int, sign: Unicode.Scalar?, isVariable: Bool) -> Int {
        if sign == "-" {
            var e = end
            while e > start, isPythonWhitespace(s[e - 1]) { e -= 1 }
            return e
        }
        guard sign != "+", !isVariable else { return end }
        var lineStart = end
        while lineStart > start, s[lineStart - 1] != "\n" { lineStart -= 1 }
        let afterNewline = lineStart > start
        guard afterNewline || lineStarting, lineStart < end else { return end }
        for i in lineStart..<end where !isPythonWhitespace(s[i]) { return end }
        return lineStart
    }

    private mutating func run() throws(ChatTemplateError) {
        var pos = 0
        let n = s.count
        while pos < n {
            // The next `{{`, `{%` or `{#`.
            var tag = pos
            while tag + 1 < n, !(s[tag] == "{" && (s[tag + 1] == "{" || s[tag + 1] == "%" || s[tag + 1] == "#")) {
                tag += 1
            }
            if tag + 1 >= n {
                emitText(pos..<n)
                return
            }
            let kind = s[tag + 1]
            var afterTag = tag + 2
            var sign: Unicode.Scalar?
            if afterTag < n, s[afterTag] == "-" || s[afterTag] == "+" {
                sign = s[afterTag]
                afterTag += 1
            }
            emitText(pos..<trimmedTextEnd(pos, tag, sign: sign, isVariable: kind == "{"))
            lineStarting = false
            switch kind {
            case "#":
                pos = try comment(from: afterTag, tagStart: tag)
            case "%":
                if let bodyStart = rawBegin(afterTag) {
                    pos = try raw(from: bodyStart, tagStart: tag)
                } else {
                    tokens.append(JinjaToken(kind: .blockBegin, offset: tag))
                    pos = try expression(from: afterTag, isBlock: true, tagStart: tag)
                }
            default:
                tokens.append(JinjaToken(kind: .variableBegin, offset: tag))
                pos = try expression(from: afterTag, isBlock: false, tagStart: tag)
            }
        }
    }

    /// Skips a comment: `(.*?)(\+#}|\-#}\s*|#}\n?)`.
    private mutating func comment(from start: Int, tagStart: Int) throws(ChatTemplateError) -> Int {
        var j = start
        while j < s.count {
            var end: Int?
            if starts("+#}", at: j) {
                end = j + 3
            } else if starts("-#}", at: j) {
                end = skipWhitespace(j + 3)
            } else if starts("#}", at: j) {
                end = j + 2
                if end! < s.count, s[end!] == "\n" { end! += 1 }
            }
            if let end {
                lineStarting = s[end - 1] == "\n"
                return end
            }
            j += 1
        }
        throw syntax(tagStart, expected: "end of comment '#}'", found: "end of template")
    }

    /// After `{%` and its sign: the start of a raw block's body if this is `{% raw %}`
    /// (`\s*raw\s*(\-%}\s*|%})`), else nil.
    private func rawBegin(_ start: Int) -> Int? {
        var j = skipWhitespace(start)
        guard starts("raw", at: j) else { return nil }
        j = skipWhitespace(j + 3)
        if starts("-%}", at: j) { return skipWhitespace(j + 3) }
        if starts("%}", at: j) { return j + 2 }
        return nil
    }

    /// A raw block's body up to `{% endraw %}`, as text.
    private mutating func raw(from start: Int, tagStart: Int) throws(ChatTemplateError) -> Int {
        lineStarting = start > 0 && s[start - 1] == "\n"
        var j = start
        while j + 1 < s.count {
            if s[j] == "{" && s[j + 1] == "%" {
                var k = j + 2
                var sign: Unicode.Scalar?
                if k < s.count, s[k] == "-" || s[k] == "+" {
                    sign = s[k]
                    k += 1
                }
                k = skipWhitespace(k)
                if starts("endraw", at: k) {
                    k = skipWhitespace(k + 6)
                    var end: Int?
                    if starts("+%}", at: k) {
                        end = k + 3
                    } else if starts("-%}", at: k) {
                        end = skipWhitespace(k + 3)
                    } else if starts("%}", at: k) {
                        end = k + 2
                        if end! < s.count, s[end!] == "\n" { end! += 1 }
                    }
                    if let end {
                        emitText(start..<trimmedTextEnd(start, j, sign: sign, isVariable: false))
                        lineStarting = s[end - 1] == "\n"
                        return end
                    }
                }
            }
            j += 1
        }
        throw syntax(tagStart, expected: "'{% endraw %}'", found: "end of template")
    }

    /// The tokens inside `{{ … }}` or `{% … %}`, through the end tag. End tags count only while
    /// brackets are balanced, so `{{ {'a': {'b': 1}} }}` ends at the last `}}`.
    private mutating func expression(from start: Int, isBlock: Bool, tagStart: Int) throws(ChatTemplateError) -> Int {
        var p = start
        var closers: [Unicode.Scalar] = []
        let n = s.count
        while true {
            guard p < n else {
                // Never closed: reported at the `{{` or `{%` that opened it.
                throw syntax(tagStart, expected: isBlock ? "end of statement block '%}'" : "end of print statement '}}'",
                             found: "end of template")
            }
            if closers.isEmpty {
                var end: Int?
                if isBlock {
                    if starts("+%}", at: p) {
                        end = p + 3
                    } else if starts("-%}", at: p) {
                        end = skipWhitespace(p + 3)
                    } else if starts("%}", at: p) {
                        end = p + 2
                        if end! < n, s[end!] == "\n" { end! += 1 }
                    }
                } else if starts("-}}", at: p) {
                    end = skipWhitespace(p + 3)
                } else if starts("}}", at: p) {
                    end = p + 2
                }
                if let end {
                    tokens.append(JinjaToken(kind: isBlock ? .blockEnd : .variableEnd, offset: p))
                    lineStarting = s[end - 1] == "\n"
                    return end
                }
            }
            let c = s[p]
            if isPythonWhitespace(c) {
                p += 1
                continue
            }
            if let (value, end) = try float(at: p) {
                tokens.append(JinjaToken(kind: .float(value), offset: p))
                p = end
            } else if let (value, end) = try integer(at: p) {
                tokens.append(JinjaToken(kind: .integer(value), offset: p))
                p = end
            } else if isNameStart(c) {
                var e = p + 1
                while e < n, isNameContinue(s[e]) { e += 1 }
                tokens.append(JinjaToken(kind: .name(source.string(p..<e)), offset: p))
                p = e
            } else if c == "'" || c == "\"", let end = stringEnd(at: p) {
                let value = try decodeString(p + 1, end - 1)
                tokens.append(JinjaToken(kind: .string(value), offset: p))
                p = end
            } else if let op = self.op(at: p) {
                switch op {
                case "(": closers.append(")")
                case "[": closers.append("]")
                case "{": closers.append("}")
                case ")", "]", "}":
                    guard let expected = closers.popLast() else {
                        throw syntax(p, expected: "an expression", found: "'\(op)'")
                    }
                    guard expected == op.unicodeScalars.first! else {
                        throw syntax(p, expected: "'\(expected)'", found: "'\(op)'")
                    }
                default: break
                }
                tokens.append(JinjaToken(kind: .op(op), offset: p))
                p += op.unicodeScalars.count
            } else {
                throw syntax(p, expected: "a token", found: "unexpected character '\(Character(c))'")
            }
        }
    }

    // MARK: Literals

    private func isDigit(_ i: Int) -> Bool { i < s.count && s[i].value >= 0x30 && s[i].value <= 0x39 }

    private func isNameStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || (c.value < 0x80 ? (c.value | 0x20 >= 0x61 && c.value | 0x20 <= 0x7A) : c.properties.isXIDStart)
    }

    private func isNameContinue(_ c: Unicode.Scalar) -> Bool {
        c == "_" || (c.value < 0x80 ? (c.value | 0x20 >= 0x61 && c.value | 0x20 <= 0x7A) || (c.value >= 0x30 && c.value <= 0x39)
                                    : c.properties.isXIDContinue)
    }

    /// `(\d+_)*\d+` from `i`: the end, or nil if no digit.
    private func digitRun(_ i: Int) -> Int? {
        guard isDigit(i) else { return nil }
        var j = i
        while isDigit(j) { j += 1 }
        while j + 1 < s.count, s[j] == "_", isDigit(j + 1) {
            j += 1
            while isDigit(j) { j += 1 }
        }
        return j
    }

    private func digitsValue(_ range: Range<Int>) -> String {
        var out = ""
        for c in s[range] where c != "_" { out.unicodeScalars.append(c) }
        return out
    }

    /// jinja2's float_re: `(?<!\.)(\d+_)*\d+((\.(\d+_)*\d+)?e[+\-]?(\d+_)*\d+|\.(\d+_)*\d+)`.
    private func float(at p: Int) throws(ChatTemplateError) -> (Double, Int)? {
        guard p == 0 || s[p - 1] != ".", let mantissaEnd = digitRun(p) else { return nil }
        var fractionEnd: Int?
        if mantissaEnd < s.count, s[mantissaEnd] == ".", let f = digitRun(mantissaEnd + 1) { fractionEnd = f }
        let beforeExponent = fractionEnd ?? mantissaEnd
        var end: Int?
        if beforeExponent < s.count, s[beforeExponent] == "e" || s[beforeExponent] == "E" {
            var e = beforeExponent + 1
            if e < s.count, s[e] == "+" || s[e] == "-" { e += 1 }
            if let expEnd = digitRun(e) { end = expEnd }
        }
        guard let end = end ?? fractionEnd else { return nil }
        guard let value = Double(digitsValue(p..<end)) else {
            throw syntax(p, expected: "a float literal", found: "'\(source.string(p..<end))'")
        }
        return (value, end)
    }

    /// jinja2's integer_re: binary, octal, hex (with `_` separators), decimal, or zeros.
    private func integer(at p: Int) throws(ChatTemplateError) -> (Int, Int)? {
        guard isDigit(p) else { return nil }
        func run(_ start: Int, _ isValid: (Unicode.Scalar) -> Bool) -> Int? {
            // (_?[digits])+
            var j = start
            var any = false
            while true {
                if j < s.count, isValid(s[j]) {
                    j += 1
                    any = true
                } else if j + 1 < s.count, s[j] == "_", isValid(s[j + 1]) {
                    j += 2
                    any = true
                } else {
                    break
                }
            }
            return any ? j : nil
        }
        var radix = 10
        var end: Int?
        var digitsStart = p
        if s[p] == "0", p + 1 < s.count {
            let marker = s[p + 1].value | 0x20
            let r = marker == 0x62 ? 2 : marker == 0x6F ? 8 : marker == 0x78 ? 16 : 10
            let valid = { (c: Unicode.Scalar) -> Bool in
                c.isASCII && (Int(String(Character(c)), radix: r) != nil)
            }
            if r != 10, let e = run(p + 2, valid) {
                radix = r
                end = e
                digitsStart = p + 2
            }
        }
        if end == nil {
            if s[p] == "0" {
                end = run(p + 1, { $0 == "0" }) ?? p + 1
            } else {
                end = run(p + 1, { $0.value >= 0x30 && $0.value <= 0x39 }) ?? p + 1
            }
        }
        guard let value = Int(digitsValue(digitsStart..<end!), radix: radix) else {
            throw .unsupported(location: source.location(p), feature: "an integer literal beyond 64 bits")
        }
        return (value, end!)
    }

    /// The end (after the closing quote) of a string literal starting at `p`, or nil if it is
    /// not closed (then the quote is an unexpected character, as in jinja2).
    private func stringEnd(at p: Int) -> Int? {
        let quote = s[p]
        var j = p + 1
        while j < s.count {
            if s[j] == "\\" {
                j += 2
                continue
            }
            if s[j] == quote { return j + 1 }
            j += 1
        }
        return nil
    }

    /// Decodes a literal's body as jinja2 does: Python's `unicode-escape` codec after
    /// `backslashreplace` (so an unknown escape such as `\q` stays as written).
    private func decodeString(_ start: Int, _ end: Int) throws(ChatTemplateError) -> String {
        var out = String.UnicodeScalarView()
        var i = start
        func hex(_ from: Int, _ count: Int) -> UInt32? {
            guard from + count <= end else { return nil }
            var v: UInt32 = 0
            for k in from..<(from + count) {
                guard let d = Int(String(s[k]), radix: 16), s[k].isASCII else { return nil }
                v = v * 16 + UInt32(d)
            }
            return v
        }
        while i < end {
            let c = s[i]
            guard c == "\\", i + 1 < end else {
                out.append(c)
                i += 1
                continue
            }
            let e = s[i + 1]
            i += 2
            switch e {
            case "\n": break
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var v = e.value - 0x30
                var k = 0
                while k < 2, i < end, s[i].value >= 0x30, s[i].value <= 0x37 {
                    v = v * 8 + s[i].value - 0x30
                    i += 1
                    k += 1
                }
                out.append(Unicode.Scalar(v)!)
            case "x", "u", "U":
                let count = e == "x" ? 2 : e == "u" ? 4 : 8
                guard let v = hex(i, count), let scalar = Unicode.Scalar(v) else {
                    throw syntax(i - 2, expected: "a valid \\\(e) escape with \(count) hex digits", found: "'\(source.string((i - 2)..<min(end, i + count)))'")
                }
                out.append(scalar)
                i += count
            case "N":
                throw .unsupported(location: source.location(i - 2), feature: "the \\N{name} string escape")
            default:
                out.append("\\")
                if e.isASCII {
                    out.append(e)
                } else {
                    // backslashreplace turned `\é` into `\\xe9` before decoding: a backslash and
                    // the escape's text.
                    let v = e.value
                    let text = v <= 0xFF ? "x" + hexDigits(v, 2) : v <= 0xFFFF ? "u" + hexDigits(v, 4) : "U" + hexDigits(v, 8)
                    out.append(contentsOf: text.unicodeScalars)
                }
            }
        }
        return String(out)
    }

    /// The operator at `p`: `//`, `**`, `==`, `!=`, `>=`, `<=`, or one of `+-/*%~[](){}><=.:|,;`.
    private func op(at p: Int) -> String? {
        let next: Unicode.Scalar? = p + 1 < s.count ? s[p + 1] : nil
        switch s[p] {
        case "/": return next == "/" ? "//" : "/"
        case "*": return next == "*" ? "**" : "*"
        case "=": return next == "=" ? "==" : "="
        case "!": return next == "=" ? "!=" : nil
        case ">": return next == "=" ? ">=" : ">"
        case "<": return next == "=" ? "<=" : "<"
        case "+", "-", "%", "~", "[", "]", "(", ")", "{", "}", ".", ":", "|", ",", ";": return String(Character(s[p]))
        default: return nil
        }
    }
}

/// `v` as `width` lowercase hex digits.
func hexDigits(_ v: UInt32, _ width: Int) -> String {
    let h = String(v, radix: 16)
    return String(repeating: "0", count: max(0, width - h.count)) + h
}
