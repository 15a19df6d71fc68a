import Foundation

// Python text formatting templates reach: transformers' `tojson` (`json.dumps`), the `%`
// operator and `format` filter (printf-style), and `strftime_now` (`datetime.strftime`).

extension JinjaRenderer {
    // MARK: tojson

    /// `json.dumps(value, ensure_ascii=…, indent=…, separators=…, sort_keys=…)`, byte for byte.
    func toJSON(_ value: JinjaValue, ensureASCII: Bool, indent: JinjaValue?, separators: JinjaValue?, sortKeys: Bool,
                _ at: SourceLocation) throws(ChatTemplateError) -> String {
        var indentText: String?
        switch indent {
        case nil, .none?: indentText = nil
        case let .string(s)?: indentText = s
        case let v?:
            guard let n = v.integer else { throw typeError("indent must be None, an int or a str", at) }
            try checkStringSize(n, at)
            indentText = String(repeating: " ", count: max(0, n))
        }
        var itemSeparator = indentText == nil ? ", " : ","
        var keySeparator = ": "
        if let separators, !(separators.isUndefined) {
            if case .none = separators {} else {
                let parts = try iterate(separators, at)
                guard parts.count == 2, case let .string(a) = parts[0], case let .string(b) = parts[1] else {
                    throw .runtime(location: at, kind: "ValueError", message: "separators must be a (item_separator, key_separator) pair of str")
                }
                itemSeparator = a
                keySeparator = b
            }
        }
        var out = ""
        let style = JSONStyle(ensureASCII: ensureASCII, indent: indentText, itemSeparator: itemSeparator,
                              keySeparator: keySeparator, sortKeys: sortKeys, at: at)
        try appendJSON(value, to: &out, level: 0, style)
        return out
    }

    /// `json.dumps`'s options, and where the `tojson` is.
    private struct JSONStyle {
        let ensureASCII: Bool
        let indent: String?
        let itemSeparator: String
        let keySeparator: String
        let sortKeys: Bool
        let at: SourceLocation
    }

    // The value's nesting is bounded (64), and the recursion goes through `appendJSON` and
    // `appendJSONList` / `appendJSONDict` only, each with a small frame: the work below the
    // renderer's last nesting check has to fit `JinjaStackGuard.reserve`.

    private func appendJSON(_ value: JinjaValue, to out: inout String, level: Int, _ style: JSONStyle) throws(ChatTemplateError) {
        if out.utf8.count > limits.stringBytes { throw .limitExceeded(location: style.at, what: .stringBytes, limit: limits.stringBytes) }
        switch value {
        case let .list(l): try appendJSONList(l, to: &out, level: level, style)
        case let .dict(d): try appendJSONDict(d, to: &out, level: level, style)
        default: try appendJSONScalar(value, to: &out, style)
        }
    }

    @inline(never)
    private func appendJSONNewline(to out: inout String, level: Int, _ style: JSONStyle) {
        guard let indent = style.indent else { return }
        out += "\n"
        for _ in 0..<level { out += indent }
    }

    @inline(never)
    private func appendJSONScalar(_ value: JinjaValue, to out: inout String, _ style: JSONStyle) throws(ChatTemplateError) {
        switch value {
        case .none: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .float(f): out += jsonFloat(f)
        case let .string(s): appendJSONString(s, to: &out, ensureASCII: style.ensureASCII)
        default: throw typeError("Object of type \(value.typeName) is not JSON serializable", style.at)
        }
    }

    @inline(never)
    private func appendJSONList(_ l: JinjaList, to out: inout String, level: Int, _ style: JSONStyle) throws(ChatTemplateError) {
        guard !l.items.isEmpty else {
            out += "[]"
            return
        }
        out += "["
        for i in l.items.indices {
            if i > 0 { out += style.itemSeparator }
            appendJSONNewline(to: &out, level: level + 1, style)
            try appendJSON(l.items[i], to: &out, level: level + 1, style)
        }
        appendJSONNewline(to: &out, level: level, style)
        out += "]"
    }

    @inline(never)
    private func appendJSONDict(_ d: JinjaDict, to out: inout String, level: Int, _ style: JSONStyle) throws(ChatTemplateError) {
        guard d.count > 0 else {
            out += "{}"
            return
        }
        let order = try jsonKeyOrder(d, style)
        out += "{"
        for (n, i) in order.enumerated() {
            if n > 0 { out += style.itemSeparator }
            appendJSONNewline(to: &out, level: level + 1, style)
            try appendJSONKey(d.keys[i], to: &out, style)
            out += style.keySeparator
            try appendJSON(d.values[i], to: &out, level: level + 1, style)
        }
        appendJSONNewline(to: &out, level: level, style)
        out += "}"
    }

    /// The order `json.dumps` writes `d`'s entries in: insertion order, or sorted by key.
    @inline(never)
    private func jsonKeyOrder(_ d: JinjaDict, _ style: JSONStyle) throws(ChatTemplateError) -> [Int] {
        var order = Array(d.keys.indices)
        guard style.sortKeys else { return order }
        let first = d.keys[0]
        for k in d.keys where pyCompare(k, first) == nil {
            throw typeError("'<' not supported between instances of '\(k.typeName)' and '\(first.typeName)'", style.at)
        }
        order.sort { (pyCompare(d.keys[$0], d.keys[$1]) ?? 0) < 0 }
        return order
    }

    @inline(never)
    private func appendJSONKey(_ k: JinjaValue, to out: inout String, _ style: JSONStyle) throws(ChatTemplateError) {
        let key: String
        switch k {
        case let .string(s): key = s
        case let .int(n): key = String(n)
        case let .float(f): key = jsonFloat(f)
        case let .bool(b): key = b ? "true" : "false"
        case .none: key = "null"
        default: throw typeError("keys must be str, int, float, bool or None, not \(k.typeName)", style.at)
        }
        appendJSONString(key, to: &out, ensureASCII: style.ensureASCII)
    }

    private func jsonFloat(_ f: Double) -> String {
        if f.isNaN { return "NaN" }
        if f.isInfinite { return f < 0 ? "-Infinity" : "Infinity" }
        return pyFloatRepr(f)
    }

    /// Python json's string encoder: `"` `\` and controls escaped; with `ensureASCII` every
    /// non-ASCII character as `\uXXXX` (surrogate pairs above U+FFFF).
    private func appendJSONString(_ s: String, to out: inout String, ensureASCII: Bool) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if c.value < 0x20 || (ensureASCII && c.value >= 0x7F) {
                    if c.value > 0xFFFF {
                        let v = c.value - 0x10000
                        out += "\\u" + hexDigits(0xD800 + (v >> 10), 4) + "\\u" + hexDigits(0xDC00 + (v & 0x3FF), 4)
                    } else {
                        out += "\\u" + hexDigits(c.value, 4)
                    }
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        out += "\""
    }

    // MARK: printf-style formatting

    /// Python `format % values`: conversions `s r a d i u f F e E g G x X o c %`, flags
    /// `- + space 0 #`, width, precision, `%(name)s` with a dict.
    func percentFormat(_ format: String, _ values: JinjaValue, _ at: SourceLocation) throws(ChatTemplateError) -> String {
        let f = format.scalarArray
        var positional: [JinjaValue]
        var mapping: JinjaDict?
        switch values {
        case let .list(l) where l.isTuple: positional = l.items
        case let .dict(d):
            mapping = d
            positional = [values]
        default: positional = [values]
        }
        var next = 0
        var usedMapping = false
        var out = ""
        var i = 0
        func fail(_ kind: String, _ message: String) -> ChatTemplateError { .runtime(location: at, kind: kind, message: message) }
        func take() throws(ChatTemplateError) -> JinjaValue {
            guard next < positional.count else { throw fail("TypeError", "not enough arguments for format string") }
            next += 1
            return positional[next - 1]
        }
        while i < f.count {
            let c = f[i]
            guard c == "%" else {
                out.unicodeScalars.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < f.count else { throw fail("ValueError", "incomplete format") }
            var key: String?
            if f[i] == "(" {
                var j = i + 1
                var level = 1
                while j < f.count {
                    if f[j] == "(" { level += 1 }
                    if f[j] == ")" {
                        level -= 1
                        if level == 0 { break }
                    }
                    j += 1
                }
                guard j < f.count else { throw fail("ValueError", "incomplete format key") }
                key = String(scalars: f[(i + 1)..<j])
                i = j + 1
            }
            var flags = Set<Unicode.Scalar>()
            while i < f.count, "-+ 0#".unicodeScalars.contains(f[i]) {
                flags.insert(f[i])
                i += 1
            }
            var width = 0
            if i < f.count, f[i] == "*" {
                guard let w = try take().integer else { throw fail("TypeError", "* wants int") }
                width = w
                i += 1
            } else {
                while i < f.count, let d = f[i].properties.numericType == .decimal && f[i].isASCII ? Int(String(f[i])) : nil {
                    width = width * 10 + d
                    i += 1
                    if width > limits.stringBytes { throw .limitExceeded(location: at, what: .stringBytes, limit: limits.stringBytes) }
                }
            }
            var precision: Int?
            if i < f.count, f[i] == "." {
                i += 1
                var p = 0
                while i < f.count, let d = f[i].isASCII ? Int(String(f[i])) : nil {
                    p = p * 10 + d
                    i += 1
                    if p > limits.stringBytes { throw .limitExceeded(location: at, what: .stringBytes, limit: limits.stringBytes) }
                }
                precision = p
            }
            while i < f.count, "hlL".unicodeScalars.contains(f[i]) { i += 1 }
            guard i < f.count else { throw fail("ValueError", "incomplete format") }
            let conversion = f[i]
            i += 1
            if conversion == "%" {
                out += "%"
                continue
            }
            let value: JinjaValue
            if let key {
                guard let mapping else { throw fail("TypeError", "format requires a mapping") }
                guard let v = mapping[.string(key)] else { throw fail("KeyError", "'\(key)'") }
                value = v
                usedMapping = true
            } else {
                value = try take()
            }
            var body: String
            var isNumber = false
            switch conversion {
            case "s", "r", "a":
                body = conversion == "s" ? try str(value, at) : try repr(value, at)
                if let precision { body = String(scalars: body.unicodeScalars.prefix(precision)) }
            case "d", "i", "u", "x", "X", "o":
                isNumber = true
                let n: Int
                switch value.number {
                case let .int(v)?: n = v
                case let .float(v)?:
                    guard conversion == "d" || conversion == "i" || conversion == "u", v.isFinite,
                          let t = Int(exactly: v.rounded(.towardZero)) else {
                        throw fail("TypeError", "%\(Character(conversion)) format: an integer is required, not float")
                    }
                    n = t
                case nil:
                    throw fail("TypeError", "%\(Character(conversion)) format: a real number is required, not \(value.typeName)")
                }
                let radix = conversion == "x" || conversion == "X" ? 16 : conversion == "o" ? 8 : 10
                var digits = String(n.magnitude, radix: radix, uppercase: conversion == "X")
                if let precision, digits.count < precision { digits = String(repeating: "0", count: precision - digits.count) + digits }
                if flags.contains("#") && radix != 10 { digits = (radix == 16 ? (conversion == "X" ? "0X" : "0x") : "0o") + digits }
                body = (n < 0 ? "-" : flags.contains("+") ? "+" : flags.contains(" ") ? " " : "") + digits
            case "f", "F", "e", "E", "g", "G":
                isNumber = true
                guard let x = value.number?.double else {
                    throw fail("TypeError", "must be real number, not \(value.typeName)")
                }
                let p = min(precision ?? 6, 300)
                if x.isNaN || x.isInfinite {
                    body = x.isNaN ? "nan" : (x < 0 ? "-inf" : "inf")
                    if conversion.properties.isUppercase { body = body.uppercased() }
                } else {
                    body = String(format: "%\(flags.contains("#") ? "#" : "").\(p)\(Character(conversion))", x)
                }
                if x >= 0 || x.isNaN {
                    if flags.contains("+") { body = "+" + body } else if flags.contains(" ") { body = " " + body }
                }
            case "c":
                switch value {
                case let .int(v): guard let u = Unicode.Scalar(UInt32(clamping: max(0, v))) else { throw fail("OverflowError", "%c arg not in range(0x110000)") }
                    body = String(Character(u))
                case let .string(s) where s.unicodeScalars.count == 1: body = s
                default: throw fail("TypeError", "%c requires int or char")
                }
            default:
                throw fail("ValueError", "unsupported format character '\(Character(conversion))' (0x\(String(conversion.value, radix: 16)))")
            }
            let length = body.unicodeScalars.count
            if width > length {
                let pad = width - length
                try checkStringSize(out.utf8.count + body.utf8.count + pad, at)
                if flags.contains("-") {
                    body += String(repeating: " ", count: pad)
                } else if flags.contains("0") && isNumber {
                    let signLength = body.hasPrefix("-") || body.hasPrefix("+") || body.hasPrefix(" ") ? 1 : 0
                    var scalars = body.scalarArray
                    scalars.insert(contentsOf: Array(repeating: "0", count: pad), at: signLength)
                    body = String(scalars: scalars)
                } else {
                    body = String(repeating: " ", count: pad) + body
                }
            }
            out += body
            try checkStringSize(out.utf8.count, at)
        }
        if mapping == nil && next < positional.count {
            throw fail("TypeError", "not all arguments converted during string formatting")
        }
        _ = usedMapping
        return out
    }
}

// MARK: - strftime

private let weekdayNames = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
private let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                          "October", "November", "December"]

/// Python's `datetime.now().strftime(format)` on glibc (C locale) for the local time `date`:
/// `%a %A %b %B %c %C %d %D %e %F %f %H %I %j %m %M %n %p %R %S %t %T %u %w %x %X %y %Y %z %Z %%`
/// and the glibc `-` (no padding) flag; `%z` and `%Z` are empty, as for Python's naive
/// `datetime.now()`. Other directives are copied as written.
func pyStrftime(_ format: String, _ date: Date) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone.current
    let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .nanosecond, .weekday], from: date)
    let year = c.year ?? 1970
    let month = c.month ?? 1
    let day = c.day ?? 1
    let hour = c.hour ?? 0
    let minute = c.minute ?? 0
    let second = c.second ?? 0
    let weekday = (c.weekday ?? 1) - 1  // 0 = Sunday
    let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
    let hour12 = hour % 12 == 0 ? 12 : hour % 12

    func pad(_ v: Int, _ width: Int, _ noPad: Bool, _ fill: Character = "0") -> String {
        let s = String(v)
        return noPad ? s : String(repeating: fill, count: max(0, width - s.count)) + s
    }
    var out = ""
    let f = Array(format)
    var i = 0
    while i < f.count {
        guard f[i] == "%", i + 1 < f.count else {
            out.append(f[i])
            i += 1
            continue
        }
        var j = i + 1
        let noPad = f[j] == "-"
        if noPad {
            j += 1
            guard j < f.count else {
                out += String(f[i...])
                break
            }
        }
        let directive = f[j]
        let expanded: String?
        switch directive {
        case "a": expanded = String(weekdayNames[weekday].prefix(3))
        case "A": expanded = weekdayNames[weekday]
        case "b", "h": expanded = String(monthNames[month - 1].prefix(3))
        case "B": expanded = monthNames[month - 1]
        case "c":
            expanded = "\(weekdayNames[weekday].prefix(3)) \(monthNames[month - 1].prefix(3)) \(pad(day, 2, false, " ")) "
                + "\(pad(hour, 2, false)):\(pad(minute, 2, false)):\(pad(second, 2, false)) \(year)"
        case "C": expanded = pad(year / 100, 2, noPad)
        case "d": expanded = pad(day, 2, noPad)
        case "D", "x": expanded = "\(pad(month, 2, false))/\(pad(day, 2, false))/\(pad(year % 100, 2, false))"
        case "e": expanded = pad(day, 2, noPad, " ")
        case "F": expanded = "\(pad(year, 4, false))-\(pad(month, 2, false))-\(pad(day, 2, false))"
        case "f": expanded = pad((c.nanosecond ?? 0) / 1000, 6, false)
        case "H": expanded = pad(hour, 2, noPad)
        case "I": expanded = pad(hour12, 2, noPad)
        case "j": expanded = pad(dayOfYear, 3, noPad)
        case "m": expanded = pad(month, 2, noPad)
        case "M": expanded = pad(minute, 2, noPad)
        case "n": expanded = "\n"
        case "p": expanded = hour < 12 ? "AM" : "PM"
        case "R": expanded = "\(pad(hour, 2, false)):\(pad(minute, 2, false))"
        case "S": expanded = pad(second, 2, noPad)
        case "t": expanded = "\t"
        case "T", "X": expanded = "\(pad(hour, 2, false)):\(pad(minute, 2, false)):\(pad(second, 2, false))"
        case "u": expanded = String(weekday == 0 ? 7 : weekday)
        case "w": expanded = String(weekday)
        case "y": expanded = pad(year % 100, 2, noPad)
        case "Y": expanded = String(year)
        case "z", "Z": expanded = ""
        case "%": expanded = "%"
        default: expanded = nil
        }
        if let expanded {
            out += expanded
        } else {
            out += String(f[i...j])
        }
        i = j + 1
    }
    return out
}
