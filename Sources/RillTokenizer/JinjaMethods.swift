// Python methods templates call on values: `str` (strip, split, startswith, replace, …),
// `dict` (get, items, keys, values), `list`/`tuple` (index, count), and `loop.cycle`.

extension JinjaRenderer {
    @inline(never)
    func callMethod(_ receiver: JinjaValue, _ name: String, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        switch receiver {
        case let .string(s): return try stringMethod(s, name, args, at)
        case let .dict(d): return try dictMethod(d, name, args, at)
        case let .list(l): return try listMethod(l, name, args, at)
        case let .loop(l):
            guard name == "cycle", args.keyword.isEmpty else { break }
            guard !args.positional.isEmpty else { throw typeError("no items for cycling given", at) }
            return args.positional[l.index0 % args.positional.count]
        default: break
        }
        throw .unsupported(location: at, feature: "the \(receiver.typeName) method '\(name)'")
    }

    private func stringArgument(_ v: JinjaValue?, _ method: String, _ at: SourceLocation) throws(ChatTemplateError) -> String? {
        switch v {
        case nil, .none?: return nil
        case let .string(s)?: return s
        case let other?: throw typeError("\(method) arg must be None or str, not \(other.typeName)", at)
        }
    }

    private func requiredString(_ v: JinjaValue?, _ method: String, _ at: SourceLocation) throws(ChatTemplateError) -> String {
        guard case let .string(s)? = v else {
            throw typeError("\(method)() argument must be str, not \(v?.typeName ?? "nothing")", at)
        }
        return s
    }

    private func stringList(_ parts: [String], _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        try makeList(parts.map { .string($0) }, at)
    }

    /// Index in Unicode scalars of the first (or last) occurrence of `needle`, or -1.

    private func stringMethod(_ s: String, _ name: String, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        func bind(_ names: [String]) throws(ChatTemplateError) -> [JinjaValue?] { try args.bind(names, name, at: at) }
        try charge(s.utf8.count, at)
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = try stringArgument(try bind(["chars"])[0], name, at)
            return try makeString(s.pyStrip(chars, leading: name != "rstrip", trailing: name != "lstrip"), at)
        case "split", "rsplit":
            let b = try bind(["sep", "maxsplit"])
            let sep = try stringArgument(b[0], name, at)
            if sep == "" { throw .runtime(location: at, kind: "ValueError", message: "empty separator") }
            let maxSplit = b[1]?.integer ?? -1
            if name == "rsplit" && maxSplit >= 0 {
                // Split from the right: reverse, split, reverse back.
                let reversed = String(scalars: s.unicodeScalars.reversed())
                let rsep = sep.map { String(scalars: $0.unicodeScalars.reversed()) }
                let parts = reversed.pySplit(rsep, maxSplit: maxSplit).reversed().map { String(scalars: $0.unicodeScalars.reversed()) }
                return try stringList(parts, at)
            }
            return try stringList(s.pySplit(sep, maxSplit: maxSplit), at)
        case "splitlines":
            let b = try bind(["keepends"])
            guard !(b[0]?.isTruthy ?? false) else { throw .unsupported(location: at, feature: "splitlines(keepends=True)") }
            return try stringList(s.pySplitLines(), at)
        case "startswith", "endswith":
            let b = try bind(["prefix", "start", "end"])
            guard b[1] == nil && b[2] == nil else { throw .unsupported(location: at, feature: "\(name) with start or end") }
            var candidates: [String] = []
            switch b[0] {
            case let .string(p)?: candidates = [p]
            case let .list(l)? where l.isTuple:
                for item in l.items { candidates.append(try requiredString(item, name, at)) }
            default:
                throw typeError("\(name) first arg must be str or a tuple of str, not \(b[0]?.typeName ?? "nothing")", at)
            }
            return .bool(candidates.contains { name == "startswith" ? s.pyHasPrefix($0) : s.pyHasSuffix($0) })
        case "lower", "casefold":
            _ = try bind([])
            return try makeString(s.pyLower(), at)
        case "upper":
            _ = try bind([])
            return try makeString(s.pyUpper(), at)
        case "title":
            _ = try bind([])
            return try makeString(s.pyTitle(), at)
        case "capitalize":
            _ = try bind([])
            return try makeString(s.pyCapitalize(), at)
        case "swapcase":
            _ = try bind([])
            var out = ""
            for c in s.unicodeScalars {
                out += c.properties.isUppercase ? c.properties.lowercaseMapping
                    : c.properties.isLowercase ? c.properties.uppercaseMapping : String(Character(c))
            }
            return try makeString(out, at)
        case "replace":
            let b = try bind(["old", "new", "count"])
            return try replace(s, try requiredString(b[0], name, at), try requiredString(b[1], name, at), b[2]?.integer ?? -1, at)
        case "find", "rfind", "index", "rindex":
            let b = try bind(["sub"])
            let i = s.pyFind(try requiredString(b[0], name, at), last: name.hasPrefix("r"))
            if i < 0 && name.hasSuffix("index") { throw .runtime(location: at, kind: "ValueError", message: "substring not found") }
            return .int(i)
        case "count":
            let b = try bind(["sub"])
            let sub = try requiredString(b[0], name, at)
            return .int(sub.isEmpty ? s.unicodeScalars.count + 1 : s.pyCount(sub))
        case "join":
            let b = try bind(["iterable"])
            var parts: [String] = []
            for (i, item) in try iterate(b[0] ?? .undefined("join() takes exactly one argument"), at).enumerated() {
                guard case let .string(p) = item else {
                    throw typeError("sequence item \(i): expected str instance, \(item.typeName) found", at)
                }
                parts.append(p)
            }
            try checkStringSize(parts.reduce(0) { $0 + $1.utf8.count } + s.utf8.count * max(0, parts.count - 1), at)
            return try makeString(parts.joined(separator: s), at)
        case "isdigit", "isdecimal", "isnumeric", "isalpha", "isalnum", "isspace", "isascii", "islower", "isupper":
            _ = try bind([])
            let scalars = s.unicodeScalars
            switch name {
            case "islower": return .bool(s.pyIsCase(upper: false))
            case "isupper": return .bool(s.pyIsCase(upper: true))
            case "isascii": return .bool(scalars.allSatisfy(\.isASCII))
            default: break
            }
            guard !scalars.isEmpty else { return .bool(false) }
            return .bool(scalars.allSatisfy { c in
                let numeric = c.properties.numericType
                switch name {
                case "isdecimal": return numeric == .decimal
                case "isdigit": return numeric == .decimal || numeric == .digit
                case "isnumeric": return numeric != nil
                case "isalpha": return pyIsWordCharacter(c) && c != "_" && numeric == nil
                case "isalnum": return pyIsWordCharacter(c) && c != "_"
                default: return isPythonWhitespace(c)
                }
            })
        case "center", "ljust", "rjust":
            let b = try bind(["width", "fillchar"])
            guard let width = b[0]?.integer else { throw typeError("\(name)() needs an integer width", at) }
            var fill: Unicode.Scalar = " "
            if let f = b[1] {
                let t = try requiredString(f, name, at)
                guard t.unicodeScalars.count == 1 else { throw typeError("The fill character must be exactly one character long", at) }
                fill = t.unicodeScalars.first!
            }
            try checkStringSize(width * 4, at)
            let n = s.unicodeScalars.count
            if name == "center" { return try makeString(s.pyCenter(width, fill: fill), at) }
            let pad = String(repeating: String(Character(fill)), count: max(0, width - n))
            return try makeString(name == "ljust" ? s + pad : pad + s, at)
        case "zfill":
            let b = try bind(["width"])
            guard let width = b[0]?.integer else { throw typeError("zfill() needs an integer width", at) }
            try checkStringSize(width, at)
            var scalars = s.scalarArray
            let padCount = max(0, width - scalars.count)
            let signed = scalars.first == "+" || scalars.first == "-"
            scalars.insert(contentsOf: Array(repeating: "0", count: padCount), at: signed ? 1 : 0)
            return try makeString(String(scalars: scalars), at)
        case "removeprefix", "removesuffix":
            let b = try bind(["affix"])
            let affix = try requiredString(b[0], name, at)
            if name == "removeprefix", s.pyHasPrefix(affix) {
                return try makeString(String(decoding: Array(s.utf8.dropFirst(affix.utf8.count)), as: UTF8.self), at)
            }
            if name == "removesuffix", s.pyHasSuffix(affix), !affix.isEmpty {
                return try makeString(String(decoding: Array(s.utf8.dropLast(affix.utf8.count)), as: UTF8.self), at)
            }
            return .string(s)
        case "partition", "rpartition":
            let b = try bind(["sep"])
            let sep = try requiredString(b[0], name, at)
            if sep.isEmpty { throw .runtime(location: at, kind: "ValueError", message: "empty separator") }
            let i = s.pyFind(sep, last: name == "rpartition")
            let scalars = s.scalarArray
            if i < 0 {
                let parts = name == "partition" ? [s, "", ""] : ["", "", s]
                return try makeList(parts.map { .string($0) }, isTuple: true, at)
            }
            let n = sep.unicodeScalars.count
            return try makeList([.string(String(scalars: scalars[..<i])), .string(sep), .string(String(scalars: scalars[(i + n)...]))],
                                isTuple: true, at)
        case "format":
            return try makeString(try strFormat(s, args, at), at)
        default:
            throw .unsupported(location: at, feature: "the str method '\(name)'")
        }
    }

    /// `str.format` for `{}`, `{0}`, `{name}` and `{{`/`}}`; format specs and conversions other
    /// than `!s`/`!r` are outside the subset.
    private func strFormat(_ format: String, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> String {
        var out = ""
        let s = format.scalarArray
        var i = 0
        var auto = 0
        while i < s.count {
            let c = s[i]
            if c == "{" && i + 1 < s.count && s[i + 1] == "{" || c == "}" && i + 1 < s.count && s[i + 1] == "}" {
                out.unicodeScalars.append(c)
                i += 2
                continue
            }
            if c == "}" { throw .runtime(location: at, kind: "ValueError", message: "Single '}' encountered in format string") }
            if c != "{" {
                out.unicodeScalars.append(c)
                i += 1
                continue
            }
            var j = i + 1
            while j < s.count, s[j] != "}" { j += 1 }
            guard j < s.count else { throw .runtime(location: at, kind: "ValueError", message: "expected '}' before end of string") }
            var field = String(scalars: s[(i + 1)..<j])
            var conversion = "s"
            if let bang = field.firstIndex(of: "!") {
                conversion = String(field[field.index(after: bang)...])
                field = String(field[..<bang])
            }
            guard !field.contains(":"), !field.contains("."), !field.contains("["), conversion == "s" || conversion == "r" else {
                throw .unsupported(location: at, feature: "str.format field '{\(String(scalars: s[(i + 1)..<j]))}'")
            }
            let value: JinjaValue
            if field.isEmpty {
                guard auto < args.positional.count else { throw .runtime(location: at, kind: "IndexError", message: "Replacement index \(auto) out of range") }
                value = args.positional[auto]
                auto += 1
            } else if let n = Int(field) {
                guard n >= 0 && n < args.positional.count else { throw .runtime(location: at, kind: "IndexError", message: "Replacement index \(n) out of range") }
                value = args.positional[n]
            } else {
                guard let v = args.keyword.first(where: { $0.name == field })?.value else {
                    throw .runtime(location: at, kind: "KeyError", message: "'\(field)'")
                }
                value = v
            }
            out += conversion == "r" ? try repr(value, at) : try str(value, at)
            try checkStringSize(out.utf8.count, at)
            i = j + 1
        }
        return out
    }

    private func dictMethod(_ d: JinjaDict, _ name: String, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        switch name {
        case "get":
            let b = try args.bind(["key", "default"], name, at: at)
            guard let key = b[0] else { throw typeError("get expected at least 1 argument, got 0", at) }
            guard JinjaKey(key) != nil else { throw typeError("unhashable type: '\(key.typeName)'", at) }
            return d[key] ?? b[1] ?? .none
        case "items":
            _ = try args.bind([], name, at: at)
            var pairs: [JinjaValue] = []
            for (k, v) in d.pairs { pairs.append(try makeList([k, v], isTuple: true, at)) }
            return try makeList(pairs, at)
        case "keys":
            _ = try args.bind([], name, at: at)
            return try makeList(d.keys, at)
        case "values":
            _ = try args.bind([], name, at: at)
            return try makeList(d.values, at)
        case "copy":
            _ = try args.bind([], name, at: at)
            return .dict(d)
        default:
            throw .unsupported(location: at, feature: "the dict method '\(name)'")
        }
    }

    private func listMethod(_ l: JinjaList, _ name: String, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        switch name {
        case "index":
            let b = try args.bind(["value"], name, at: at)
            guard let v = b[0], let i = l.items.firstIndex(where: { pyEqual($0, v) }) else {
                throw .runtime(location: at, kind: "ValueError", message: "\(l.isTuple ? "tuple.index(x): x not in tuple" : "value is not in list")")
            }
            return .int(i)
        case "count":
            let b = try args.bind(["value"], name, at: at)
            guard let v = b[0] else { throw typeError("count() takes exactly one argument (0 given)", at) }
            return .int(l.items.filter { pyEqual($0, v) }.count)
        case "copy":
            _ = try args.bind([], name, at: at)
            return .list(l)
        default:
            // jinja2's sandbox lets list.pop and list.clear through; Rill's values are immutable.
            throw .unsupported(location: at, feature: "the list method '\(name)'")
        }
    }
}
