import Foundation

// jinja2's built-in filters and tests (jinja2/filters.py, jinja2/tests.py), with transformers'
// `tojson`. Implemented: abs, attr, batch, capitalize, center, count, d, default, dictsort, e,
// escape, first, float, forceescape, format, indent, int, items, join, last, length, list,
// lower, map, max, min, reject, rejectattr, replace, reverse, round, safe, select, selectattr,
// sort, string, sum, title, tojson, trim, unique, upper, wordcount; every jinja2 test.

extension JinjaRenderer {
    // MARK: Filters

    @inline(never)
    func applyFilter(_ name: String, _ value: JinjaValue, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        func bind(_ names: [String]) throws(ChatTemplateError) -> [JinjaValue?] { try args.bind(names, name, at: at) }
        func text() throws(ChatTemplateError) -> String { try str(value, at) }
        switch name {
        case "trim":
            let chars = try optionalString(try bind(["chars"])[0], "trim", at)
            return try makeString(try text().pyStrip(chars), at)
        case "upper":
            _ = try bind([])
            return try makeString(try text().pyUpper(), at)
        case "lower":
            _ = try bind([])
            return try makeString(try text().pyLower(), at)
        case "capitalize":
            _ = try bind([])
            return try makeString(try text().pyCapitalize(), at)
        case "title":
            _ = try bind([])
            return try makeString(jinjaTitle(try text()), at)
        case "string":
            _ = try bind([])
            return try makeString(try text(), at)
        case "safe":
            _ = try bind([])
            return try makeString(try text(), at)
        case "e", "escape", "forceescape":
            _ = try bind([])
            return try makeString(htmlEscape(try text()), at)
        case "length", "count":
            _ = try bind([])
            return .int(try length(value, at))
        case "default", "d":
            let b = try bind(["default_value", "boolean"])
            let useDefault = value.isUndefined || ((b[1]?.isTruthy ?? false) && !value.isTruthy)
            return useDefault ? (b[0] ?? .string("")) : value
        case "first":
            _ = try bind([])
            return try iterate(value, at).first ?? .undefined("No first item, sequence was empty.")
        case "last":
            _ = try bind([])
            if case let .undefined(u) = value { throw undefinedError(u, at) }
            return try iterate(value, at).last ?? .undefined("No last item, sequence was empty.")
        case "list":
            _ = try bind([])
            return try makeList(try iterate(value, at), at)
        case "items":
            _ = try bind([])
            switch value {
            case .undefined: return try makeList([], at)
            case let .dict(d): return try makeList(try d.pairs.map { (k, v) throws(ChatTemplateError) in try makeList([k, v], isTuple: true, at) }, at)
            default: throw typeError("Can only get item pairs from a mapping.", at)
            }
        case "join":
            let b = try bind(["d", "attribute"])
            let separator = try b[0].map { (v: JinjaValue) throws(ChatTemplateError) in try str(v, at) } ?? ""
            var parts: [String] = []
            for item in try iterate(value, at) {
                let v = try b[1].map { (a: JinjaValue) throws(ChatTemplateError) in try attributeGetter(item, a, nil, at) } ?? item
                parts.append(try str(v, at))
            }
            let total = parts.reduce(0) { $0 + $1.utf8.count } + separator.utf8.count * max(0, parts.count - 1)
            try checkStringSize(total, at)
            return try makeString(parts.joined(separator: separator), at)
        case "replace":
            let b = try bind(["old", "new", "count"])
            guard let old = b[0], let new = b[1] else { throw typeError("replace() missing required arguments", at) }
            let count = b[2].flatMap { $0.integer } ?? -1
            return try replace(try text(), try str(old, at), try str(new, at), count, at)
        case "tojson":
            let b = try bind(["ensure_ascii", "indent", "separators", "sort_keys"])
            return try makeString(try toJSON(value, ensureASCII: b[0]?.isTruthy ?? false, indent: b[1], separators: b[2],
                                             sortKeys: b[3]?.isTruthy ?? false, at), at)
        case "abs":
            _ = try bind([])
            switch value.number {
            case let .int(i)?:
                guard i != .min else { throw .unsupported(location: at, feature: "integers beyond 64 bits") }
                return .int(abs(i))
            case let .float(f)?: return .float(abs(f))
            case nil: throw typeError("bad operand type for abs(): '\(value.typeName)'", at)
            }
        case "int":
            let b = try bind(["default", "base"])
            return toInt(value, base: b[1]?.integer ?? 10) ?? (b[0] ?? .int(0))
        case "float":
            let b = try bind(["default"])
            return toFloat(value).map { .float($0) } ?? (b[0] ?? .float(0))
        case "round":
            let b = try bind(["precision", "method"])
            return try round(value, precision: b[0]?.integer ?? 0, method: try optionalString(b[1], "round", at) ?? "common", at)
        case "sum":
            let b = try bind(["attribute", "start"])
            var total = b[1] ?? .int(0)
            for item in try iterate(value, at) {
                let v = try b[0].map { (a: JinjaValue) throws(ChatTemplateError) in try attributeGetter(item, a, nil, at) } ?? item
                total = try binary(.add, total, v, at)
            }
            return total
        case "min", "max":
            let b = try bind(["case_sensitive", "attribute"])
            let items = try iterate(value, at)
            guard var best = items.first else { return .undefined("No aggregated item, sequence was empty.") }
            var bestKey = try sortKey(best, caseSensitive: b[0]?.isTruthy ?? false, attribute: b[1], at)
            for item in items.dropFirst() {
                let key = try sortKey(item, caseSensitive: b[0]?.isTruthy ?? false, attribute: b[1], at)
                let c = try order(key, bestKey, at)
                if name == "min" ? c < 0 : c > 0 {
                    best = item
                    bestKey = key
                }
            }
            return best
        case "sort":
            let b = try bind(["reverse", "case_sensitive", "attribute"])
            let items = try iterate(value, at)
            var keyed: [(key: JinjaValue, item: JinjaValue)] = []
            for item in items {
                keyed.append((try sortKey(item, caseSensitive: b[1]?.isTruthy ?? false, attribute: b[2], at), item))
            }
            let reverse = b[0]?.isTruthy ?? false
            let sorted = try stableSort(keyed) { (x, y) throws(ChatTemplateError) in
                let c = try order(x.key, y.key, at)
                return reverse ? c > 0 : c < 0
            }
            return try makeList(sorted.map(\.item), at)
        case "dictsort":
            let b = try bind(["case_sensitive", "by", "reverse"])
            guard case let .dict(d) = value else { throw typeError("You can only sort by either \"key\" or \"value\"", at) }
            let byValue = try optionalString(b[1], "dictsort", at) == "value"
            let caseSensitive = b[0]?.isTruthy ?? false
            var keyed: [(key: JinjaValue, item: JinjaValue)] = []
            for (k, v) in d.pairs {
                let key = try sortKey(byValue ? v : k, caseSensitive: caseSensitive, attribute: nil, at)
                keyed.append((key, try makeList([k, v], isTuple: true, at)))
            }
            let reverse = b[2]?.isTruthy ?? false
            let sorted = try stableSort(keyed) { (x, y) throws(ChatTemplateError) in
                let c = try order(x.key, y.key, at)
                return reverse ? c > 0 : c < 0
            }
            return try makeList(sorted.map(\.item), at)
        case "unique":
            let b = try bind(["case_sensitive", "attribute"])
            var seen: [JinjaValue] = []
            var out: [JinjaValue] = []
            for item in try iterate(value, at) {
                let key = try sortKey(item, caseSensitive: b[0]?.isTruthy ?? false, attribute: b[1], at)
                if !seen.contains(where: { pyEqual($0, key) }) {
                    try charge(seen.count, at)
                    seen.append(key)
                    out.append(item)
                }
            }
            return try makeList(out, at)
        case "reverse":
            _ = try bind([])
            if case let .string(s) = value { return try makeString(String(scalars: s.unicodeScalars.reversed()), at) }
            return try makeList(try iterate(value, at).reversed(), at)
        case "map":
            return try makeList(try mapFilter(value, args, at), at)
        case "select", "reject", "selectattr", "rejectattr":
            return try makeList(try selectFilter(name, value, args, at), at)
        case "batch":
            let b = try bind(["linecount", "fill_with"])
            guard let size = b[0]?.integer, size > 0 else { throw typeError("batch() needs a positive linecount", at) }
            var out: [JinjaValue] = []
            var current: [JinjaValue] = []
            for item in try iterate(value, at) {
                current.append(item)
                if current.count == size {
                    out.append(try makeList(current, at))
                    current = []
                }
            }
            if !current.isEmpty {
                if let fill = b[1] { current += Array(repeating: fill, count: size - current.count) }
                out.append(try makeList(current, at))
            }
            return try makeList(out, at)
        case "center":
            let b = try bind(["width"])
            let width = b[0]?.integer ?? 80
            try checkStringSize(width, at)
            return try makeString(try text().pyCenter(width), at)
        case "indent":
            let b = try bind(["width", "first", "blank"])
            return try makeString(try indent(try text(), width: b[0] ?? .int(4), first: b[1]?.isTruthy ?? false,
                                             blank: b[2]?.isTruthy ?? false, at), at)
        case "wordcount":
            _ = try bind([])
            var count = 0
            var inWord = false
            for c in try text().unicodeScalars {
                let w = pyIsWordCharacter(c)
                if w && !inWord { count += 1 }
                inWord = w
            }
            return .int(count)
        case "format":
            guard args.positional.isEmpty || args.keyword.isEmpty else {
                throw .runtime(location: at, kind: "FilterArgumentError", message: "can't handle positional and keyword arguments at the same time")
            }
            let operand: JinjaValue
            if !args.keyword.isEmpty {
                var d = JinjaDict()
                for (k, v) in args.keyword { d.set(.string(k), v) }
                operand = .dict(d)
            } else {
                operand = .tuple(args.positional)
            }
            return try makeString(try percentFormat(try text(), operand, at), at)
        case "attr":
            let b = try bind(["name"])
            let attribute = try str(b[0] ?? .string(""), at)
            switch value {
            case let .namespace(ns): return ns.attributes[attribute] ?? .undefined("'Namespace object' has no attribute '\(attribute)'")
            case .undefined, .dict, .string, .list: break
            default: return .undefined("'\(value.typeName) object' has no attribute '\(attribute)'")
            }
            if case .dict = value, Self.dictMethods.contains(attribute) { return try getAttribute(value, attribute, at) }
            if case .dict = value { return .undefined("'dict object' has no attribute '\(attribute)'") }
            return try getAttribute(value, attribute, at)
        default:
            if jinjaFilterNames.contains(name) { throw .unsupported(location: at, feature: "the '\(name)' filter") }
            throw .unknownFilter(location: at, name: name)
        }
    }

    private func optionalString(_ v: JinjaValue?, _ function: String, _ at: SourceLocation) throws(ChatTemplateError) -> String? {
        switch v {
        case nil, .none?: return nil
        case let .string(s)?: return s
        case let other?: throw typeError("\(function) arg must be None or str, not \(other.typeName)", at)
        }
    }

    func length(_ v: JinjaValue, _ at: SourceLocation) throws(ChatTemplateError) -> Int {
        switch v {
        case let .string(s): return s.unicodeScalars.count
        case let .list(l): return l.items.count
        case let .dict(d): return d.count
        case .undefined: return 0
        default: throw typeError("object of type '\(v.typeName)' has no len()", at)
        }
    }

    func replace(_ s: String, _ old: String, _ new: String, _ count: Int, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        // Bound the result before building it: each replacement adds at most new - old bytes.
        let hits = old.isEmpty ? s.unicodeScalars.count + 1 : s.pyCount(old)
        let n = count < 0 ? hits : min(hits, count)
        let (grow, o1) = n.multipliedReportingOverflow(by: max(0, new.utf8.count - old.utf8.count))
        if o1 || s.utf8.count + grow > limits.stringBytes {
            throw .limitExceeded(location: at, what: .stringBytes, limit: limits.stringBytes)
        }
        return try makeString(s.pyReplace(old, new, count: count), at)
    }

    /// jinja2's `title` filter: each word (split at `-`, whitespace and opening brackets)
    /// gets its first character uppercased and the rest lowercased.
    private func jinjaTitle(_ s: String) -> String {
        var out = ""
        var atWordStart = true
        for c in s.unicodeScalars {
            let separator = c == "-" || c == "(" || c == "{" || c == "[" || c == "<" || isPythonWhitespace(c)
            if separator {
                out.unicodeScalars.append(c)
                atWordStart = true
            } else {
                out += atWordStart ? c.properties.uppercaseMapping : c.properties.lowercaseMapping
                atWordStart = false
            }
        }
        return out
    }

    private func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    private func indent(_ s: String, width: JinjaValue, first: Bool, blank: Bool, _ at: SourceLocation) throws(ChatTemplateError) -> String {
        let indention: String
        if case let .string(w) = width { indention = w } else {
            let n = width.integer ?? 4
            try checkStringSize(n, at)
            indention = String(repeating: " ", count: max(0, n))
        }
        let lines = (s + "\n").pySplitLines()
        try checkStringSize(s.utf8.count + lines.count * indention.utf8.count, at)
        var rv: String
        if blank {
            rv = lines.joined(separator: "\n" + indention)
        } else {
            rv = lines.first ?? ""
            if lines.count > 1 {
                rv += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n")
            }
        }
        return first ? indention + rv : rv
    }

    /// Python `int(x)` as jinja2's `int` filter tries it (then `int(float(x))`); nil if neither works.
    private func toInt(_ v: JinjaValue, base: Int) -> JinjaValue? {
        switch v {
        case let .int(i): return .int(i)
        case let .bool(b): return .int(b ? 1 : 0)
        case let .float(f):
            guard f.isFinite, let i = Int(exactly: f.rounded(.towardZero)) else { return nil }
            return .int(i)
        case let .string(s):
            var t = s.pyStrip(nil).replacingOccurrences(of: "_", with: "")
            var negative = false
            if t.hasPrefix("-") || t.hasPrefix("+") {
                negative = t.hasPrefix("-")
                t.removeFirst()
            }
            var radix = base
            let lower = t.lowercased()
            if base == 16 && lower.hasPrefix("0x") || base == 8 && lower.hasPrefix("0o") || base == 2 && lower.hasPrefix("0b") {
                t.removeFirst(2)
            } else if base == 0 {
                radix = lower.hasPrefix("0x") ? 16 : lower.hasPrefix("0o") ? 8 : lower.hasPrefix("0b") ? 2 : 10
                if radix != 10 { t.removeFirst(2) }
            }
            if !t.isEmpty, t.unicodeScalars.allSatisfy({ $0.isASCII }), let i = Int(t, radix: radix) { return .int(negative ? -i : i) }
            if let f = toFloat(v), f.isFinite, let i = Int(exactly: f.rounded(.towardZero)) { return .int(i) }
            return nil
        default:
            return nil
        }
    }

    /// Python `float(x)`, or nil where it raises.
    private func toFloat(_ v: JinjaValue) -> Double? {
        switch v {
        case let .int(i): return Double(i)
        case let .bool(b): return b ? 1 : 0
        case let .float(f): return f
        case let .string(s):
            let t = s.pyStrip(nil).replacingOccurrences(of: "_", with: "").lowercased()
            switch t {
            case "inf", "+inf", "infinity", "+infinity": return .infinity
            case "-inf", "-infinity": return -.infinity
            case "nan", "+nan", "-nan": return .nan
            default:
                guard !t.isEmpty, t.unicodeScalars.allSatisfy({ "0123456789+-.e".unicodeScalars.contains($0) }) else { return nil }
                return Double(t)
            }
        default:
            return nil
        }
    }

    private func round(_ v: JinjaValue, precision: Int, method: String, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        guard ["common", "ceil", "floor"].contains(method) else {
            throw .runtime(location: at, kind: "FilterArgumentError", message: "method must be common, ceil or floor")
        }
        guard let n = v.number else { throw typeError("type \(v.typeName) doesn't define __round__ method", at) }
        if method == "common" {
            if case let .int(i) = n, precision >= 0 { return .int(i) }
            let x = n.double
            guard x.isFinite else { return .float(x) }
            if precision >= 0 && precision <= 300 {
                // printf rounds the exact binary value half to even, as Python's round does.
                return .float(Double(String(format: "%.\(precision)f", x)) ?? x)
            }
            let p = Foundation.pow(10.0, Double(-precision))
            return .float((x / p).rounded(.toNearestOrEven) * p)
        }
        let p = Foundation.pow(10.0, Double(precision))
        let scaled = n.double * p
        return .float((method == "ceil" ? scaled.rounded(.up) : scaled.rounded(.down)) / p)
    }

    /// jinja2's `make_attrgetter`: `attribute` is an int or a dotted path whose parts are looked
    /// up with `getitem` (integers where they are digits); `default` replaces an undefined result.
    func attributeGetter(_ item: JinjaValue, _ attribute: JinjaValue, _ defaultValue: JinjaValue?, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        var parts: [JinjaValue]
        if case let .string(path) = attribute {
            parts = path.pySplit(".", maxSplit: -1).map { part in
                if !part.isEmpty, part.unicodeScalars.allSatisfy({ $0.properties.numericType == .decimal && $0.isASCII }), let i = Int(part) {
                    return .int(i)
                }
                return .string(part)
            }
        } else {
            parts = [attribute]
        }
        var v = item
        for p in parts { v = try getItem(v, p, at) }
        if v.isUndefined, let defaultValue { return defaultValue }
        return v
    }

    /// The key `sort`, `min`, `max`, `unique`, `dictsort` compare: the attribute if given,
    /// lowercased if a string and not case-sensitive.
    private func sortKey(_ item: JinjaValue, caseSensitive: Bool, attribute: JinjaValue?, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        var v = item
        if let attribute, !(attribute.isUndefined) {
            if case .none = attribute {} else { v = try attributeGetter(item, attribute, nil, at) }
        }
        if !caseSensitive, case let .string(s) = v { return .string(s.pyLower()) }
        return v
    }

    /// Python ordering, raising TypeError where Python does.
    private func order(_ a: JinjaValue, _ b: JinjaValue, _ at: SourceLocation) throws(ChatTemplateError) -> Int {
        if case let .undefined(u) = a { throw undefinedError(u, at) }
        if case let .undefined(u) = b { throw undefinedError(u, at) }
        guard let c = pyCompare(a, b) else {
            throw typeError("'<' not supported between instances of '\(a.typeName)' and '\(b.typeName)'", at)
        }
        return c
    }

    /// A stable merge sort with a throwing comparison (Python's `sorted` is stable).
    private func stableSort<T>(_ items: [T], _ less: (T, T) throws(ChatTemplateError) -> Bool) throws(ChatTemplateError) -> [T] {
        guard items.count > 1 else { return items }
        var a = items
        var b = items
        var width = 1
        while width < a.count {
            var i = 0
            while i < a.count {
                let mid = min(i + width, a.count)
                let hi = min(i + 2 * width, a.count)
                var l = i
                var r = mid
                var k = i
                while l < mid && r < hi {
                    if try less(a[r], a[l]) {
                        b[k] = a[r]
                        r += 1
                    } else {
                        b[k] = a[l]
                        l += 1
                    }
                    k += 1
                }
                while l < mid {
                    b[k] = a[l]
                    l += 1
                    k += 1
                }
                while r < hi {
                    b[k] = a[r]
                    r += 1
                    k += 1
                }
                i += 2 * width
            }
            swap(&a, &b)
            width *= 2
        }
        return a
    }

    /// `map(attribute='x', default=…)` or `map('filter', args…)`.
    private func mapFilter(_ value: JinjaValue, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> [JinjaValue] {
        let items = try iterate(value, at)
        if args.positional.isEmpty {
            var attribute: JinjaValue?
            var defaultValue: JinjaValue?
            for (k, v) in args.keyword {
                switch k {
                case "attribute": attribute = v
                case "default": defaultValue = v
                default: throw typeError("map() got an unexpected keyword argument '\(k)'", at)
                }
            }
            guard let attribute else { throw typeError("map requires a filter argument", at) }
            var out: [JinjaValue] = []
            for item in items { out.append(try attributeGetter(item, attribute, defaultValue, at)) }
            return out
        }
        guard case let .string(filter) = args.positional[0] else { throw typeError("map requires a filter name", at) }
        let rest = JinjaCallArguments(positional: Array(args.positional.dropFirst()), keyword: args.keyword)
        var out: [JinjaValue] = []
        for item in items { out.append(try applyFilter(filter, item, rest, at)) }
        return out
    }

    /// `select(test, args…)`, `reject`, `selectattr(attribute, test, args…)`, `rejectattr`.
    private func selectFilter(_ name: String, _ value: JinjaValue, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> [JinjaValue] {
        let byAttribute = name.hasSuffix("attr")
        let keep = name.hasPrefix("select")
        var positional = args.positional
        var attribute: JinjaValue?
        if byAttribute {
            guard !positional.isEmpty else { throw typeError("\(name)() missing the attribute", at) }
            attribute = positional.removeFirst()
        }
        var test: String?
        if !positional.isEmpty {
            guard case let .string(t) = positional.removeFirst() else { throw typeError("\(name)() test name must be a string", at) }
            test = t
        }
        let testArgs = JinjaCallArguments(positional: positional, keyword: args.keyword)
        var out: [JinjaValue] = []
        for item in try iterate(value, at) {
            let subject = try attribute.map { (a: JinjaValue) throws(ChatTemplateError) in try attributeGetter(item, a, nil, at) } ?? item
            let passed = try test.map { (t: String) throws(ChatTemplateError) in try applyTest(t, subject, testArgs, at) } ?? subject.isTruthy
            if passed == keep { out.append(item) }
        }
        return out
    }

    // MARK: Tests

    @inline(never)
    func applyTest(_ name: String, _ value: JinjaValue, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> Bool {
        func one() throws(ChatTemplateError) -> JinjaValue {
            let b = try args.bind(["other"], name, at: at)
            guard let other = b[0] else { throw typeError("test '\(name)' needs an argument", at) }
            return other
        }
        func noArguments() throws(ChatTemplateError) { _ = try args.bind([], name, at: at) }
        switch name {
        case "defined": try noArguments(); return !value.isUndefined
        case "undefined": try noArguments(); return value.isUndefined
        case "none":
            try noArguments()
            if case .none = value { return true }
            return false
        case "boolean", "true", "false":
            try noArguments()
            guard case let .bool(b) = value else { return false }
            return name == "boolean" || b == (name == "true")
        case "integer":
            try noArguments()
            if case .int = value { return true }
            return false
        case "float":
            try noArguments()
            if case .float = value { return true }
            return false
        case "number": try noArguments(); return value.number != nil
        case "string":
            try noArguments()
            if case .string = value { return true }
            return false
        case "mapping":
            try noArguments()
            if case .dict = value { return true }
            return false
        case "iterable":
            try noArguments()
            switch value {
            case .string, .list, .dict, .undefined, .loop: return true
            default: return false
            }
        case "sequence":
            try noArguments()
            switch value {
            case .string, .list, .dict, .undefined: return true
            default: return false
            }
        case "callable":
            try noArguments()
            switch value {
            case .callable, .undefined: return true
            default: return false
            }
        case "escaped": try noArguments(); return false
        case "lower", "upper":
            try noArguments()
            return try str(value, at).pyIsCase(upper: name == "upper")
        case "even", "odd", "divisibleby":
            let divisor: JinjaValue = name == "divisibleby" ? try one() : .int(2)
            if name != "divisibleby" { try noArguments() }
            let r = try binary(.modulo, value, divisor, at)
            let isZero = pyEqual(r, .int(0))
            return name == "odd" ? !isZero : isZero
        case "eq", "equalto", "==": return pyEqual(value, try one())
        case "ne", "!=": return !pyEqual(value, try one())
        case "lt", "lessthan", "<": return try compare(.less, value, try one(), at)
        case "le", "<=": return try compare(.lessOrEqual, value, try one(), at)
        case "gt", "greaterthan", ">": return try compare(.greater, value, try one(), at)
        case "ge", ">=": return try compare(.greaterOrEqual, value, try one(), at)
        case "in": return try contains(try one(), value, at)
        case "sameas":
            let other = try one()
            switch (value, other) {
            case (.none, .none): return true
            case let (.bool(x), .bool(y)): return x == y
            case let (.int(x), .int(y)): return x == y
            case let (.namespace(x), .namespace(y)): return x === y
            case let (.string(x), .string(y)): return x.utf8.elementsEqual(y.utf8)
            default: return false
            }
        case "filter":
            try noArguments()
            guard case let .string(n) = value else { return false }
            return jinjaFilterNames.contains(n)
        case "test":
            try noArguments()
            guard case let .string(n) = value else { return false }
            return jinjaTestNames.contains(n)
        default:
            throw .unknownTest(location: at, name: name)
        }
    }
}
