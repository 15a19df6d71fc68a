// Values a Jinja template computes with, and the Python semantics jinja2 gives them:
// truthiness, equality, ordering, `str()` and `repr()`. Strings compare by Unicode scalars as
// Python's do (Swift's `==` on String would equate "é" and "e\u{301}").

import Foundation

// MARK: - Values

/// jinja2's `Undefined`: prints as nothing, is false, iterates as empty, and fails with
/// `message` on anything else (attribute access, arithmetic, ordering, calling).
struct JinjaUndefined {
    /// The UndefinedError text (`'x' is undefined`, `'dict object' has no attribute 'y'`).
    var message: String
    /// `UndefinedError`, or `SecurityError` for the sandbox's unsafe attributes.
    var errorKind = "UndefinedError"
}

/// A Python list or tuple. `depth` is 1 + the deepest element's depth, kept so nesting stays
/// bounded without walking the value.
struct JinjaList {
    var items: [JinjaValue]
    var isTuple: Bool
    let depth: Int

    init(_ items: [JinjaValue], isTuple: Bool = false) {
        self.items = items
        self.isTuple = isTuple
        var d = 0
        for v in items { d = max(d, v.depth) }
        depth = d + 1
    }
}

/// A hashable dictionary key with Python's equalities: `True == 1 == 1.0`, strings by scalars.
enum JinjaKey: Hashable {
    case string(String)
    case int(Int)
    case float(UInt64)
    case none

    init?(_ v: JinjaValue) {
        switch v {
        case let .string(s): self = .string(s)
        case let .int(i): self = .int(i)
        case let .bool(b): self = .int(b ? 1 : 0)
        case let .float(f):
            if f.rounded() == f, let i = Int(exactly: f) { self = .int(i) } else { self = .float(f.bitPattern) }
        case .none: self = .none
        default: return nil
        }
    }

    static func == (a: JinjaKey, b: JinjaKey) -> Bool {
        switch (a, b) {
        case let (.string(x), .string(y)): return x.utf8.elementsEqual(y.utf8)
        case let (.int(x), .int(y)): return x == y
        case let (.float(x), .float(y)): return x == y
        case (.none, .none): return true
        default: return false
        }
    }

    func hash(into h: inout Hasher) {
        switch self {
        case let .string(s):
            h.combine(0)
            for b in s.utf8 { h.combine(b) }
        case let .int(i):
            h.combine(1)
            h.combine(i)
        case let .float(f):
            h.combine(2)
            h.combine(f)
        case .none:
            h.combine(3)
        }
    }
}

/// A Python dict: insertion-ordered.
struct JinjaDict {
    private(set) var keys: [JinjaValue] = []
    private(set) var values: [JinjaValue] = []
    private var index: [JinjaKey: Int] = [:]
    private(set) var depth = 1

    var count: Int { keys.count }

    subscript(key: JinjaValue) -> JinjaValue? {
        guard let k = JinjaKey(key), let i = index[k] else { return nil }
        return values[i]
    }

    subscript(name: String) -> JinjaValue? { self[.string(name)] }

    /// Inserts or replaces; false if `key` is not hashable (a list, a dict, …).
    @discardableResult
    mutating func set(_ key: JinjaValue, _ value: JinjaValue) -> Bool {
        guard let k = JinjaKey(key) else { return false }
        if let i = index[k] {
            values[i] = value
        } else {
            index[k] = keys.count
            keys.append(key)
            values.append(value)
        }
        depth = max(depth, max(key.depth, value.depth) + 1)
        return true
    }

    var pairs: Zip2Sequence<[JinjaValue], [JinjaValue]> { zip(keys, values) }
}

/// `namespace(…)`: the one mutable object in templates (`{% set ns.x = … %}`).
final class JinjaNamespace {
    var attributes = JinjaDict()
}

/// The `loop` variable of a `for` block. A class: `{% set outer = loop %}` keeps seeing the
/// outer loop advance, as in jinja2.
final class JinjaLoop {
    let items: [JinjaValue]
    var index0 = 0
    /// 1 + the deepest item's depth, as for a list (the loop refers to its items).
    let depth: Int

    init(items: [JinjaValue]) {
        self.items = items
        depth = JinjaList(items).depth
    }
}

/// Something a template can call.
indirect enum JinjaCallable {
    /// A global: `range`, `dict`, `namespace`, `raise_exception`, `strftime_now`.
    case global(String)
    case macro(JinjaMacro)
    /// A bound method: `'a b'.split`, `d.items`, `loop.cycle`.
    case method(receiver: JinjaValue, name: String)
}

enum JinjaValue {
    case undefined(JinjaUndefined)
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case list(JinjaList)
    case dict(JinjaDict)
    case namespace(JinjaNamespace)
    case callable(JinjaCallable)
    case loop(JinjaLoop)

    static func undefined(_ message: String) -> JinjaValue { .undefined(JinjaUndefined(message: message)) }

    static func list(_ items: [JinjaValue]) -> JinjaValue { .list(JinjaList(items)) }

    static func tuple(_ items: [JinjaValue]) -> JinjaValue { .list(JinjaList(items, isTuple: true)) }

    /// Nesting: 0 for scalars, 1 + the deepest element for containers.
    var depth: Int {
        switch self {
        case let .list(l): return l.depth
        case let .dict(d): return d.depth
        case let .namespace(ns): return ns.attributes.depth
        case let .loop(l): return l.depth
        default: return 0
        }
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// Python's `type(x).__name__`.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case let .list(l): return l.isTuple ? "tuple" : "list"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case let .callable(c):
            switch c {
            case .global: return "function"
            case .macro: return "Macro"
            case .method: return "builtin_function_or_method"
            }
        case .loop: return "LoopContext"
        }
    }

    /// Python truthiness.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case let .bool(b): return b
        case let .int(i): return i != 0
        case let .float(f): return f != 0
        case let .string(s): return !s.isEmpty
        case let .list(l): return !l.items.isEmpty
        case let .dict(d): return d.count > 0
        case .namespace, .callable, .loop: return true
        }
    }

    /// The value as a number (bool counts as int), or nil.
    var number: JinjaNumber? {
        switch self {
        case let .bool(b): return .int(b ? 1 : 0)
        case let .int(i): return .int(i)
        case let .float(f): return .float(f)
        default: return nil
        }
    }

    /// The value as an integer index (int or bool), or nil.
    var integer: Int? {
        switch self {
        case let .int(i): return i
        case let .bool(b): return b ? 1 : 0
        default: return nil
        }
    }
}

enum JinjaNumber {
    case int(Int)
    case float(Double)

    var double: Double {
        switch self {
        case let .int(i): return Double(i)
        case let .float(f): return f
        }
    }
}

// MARK: - Equality and ordering
//
// These, and `pyAppendText`, recurse into lists and dicts through small functions (the
// containers in functions of their own, out of line): values nest up to the nesting bound,
// and the recursion runs below the renderer's last nesting check (`JinjaStackGuard`).

/// Python `==`.
func pyEqual(_ a: JinjaValue, _ b: JinjaValue) -> Bool {
    switch (a, b) {
    case let (.list(x), .list(y)): return pyEqualLists(x, y)
    case let (.dict(x), .dict(y)): return pyEqualDicts(x, y)
    default: return pyEqualScalars(a, b)
    }
}

@inline(never)
private func pyEqualLists(_ x: JinjaList, _ y: JinjaList) -> Bool {
    guard x.isTuple == y.isTuple, x.items.count == y.items.count else { return false }
    for i in x.items.indices where !pyEqual(x.items[i], y.items[i]) { return false }
    return true
}

@inline(never)
private func pyEqualDicts(_ x: JinjaDict, _ y: JinjaDict) -> Bool {
    guard x.count == y.count else { return false }
    for i in x.keys.indices {
        guard let w = y[x.keys[i]], pyEqual(x.values[i], w) else { return false }
    }
    return true
}

/// `==` of two values that are not both lists or both dicts.
@inline(never)
private func pyEqualScalars(_ a: JinjaValue, _ b: JinjaValue) -> Bool {
    if let x = a.number, let y = b.number {
        switch (x, y) {
        case let (.int(p), .int(q)): return p == q
        case let (.int(p), .float(q)), let (.float(q), .int(p)):
            if let e = Int(exactly: q) { return e == p }
            return false
        case let (.float(p), .float(q)): return p == q
        }
    }
    switch (a, b) {
    case let (.string(x), .string(y)): return x.utf8.elementsEqual(y.utf8)
    case (.none, .none), (.undefined, .undefined): return true
    case let (.namespace(x), .namespace(y)): return x === y
    case let (.loop(x), .loop(y)): return x === y
    case let (.callable(x), .callable(y)):
        switch (x, y) {
        case let (.global(p), .global(q)): return p == q
        case let (.macro(p), .macro(q)): return p === q
        default: return false
        }
    default:
        return false
    }
}

/// Python's ordering of two values: `<0`, `0`, `>0`, or nil when Python raises TypeError
/// (`'<' not supported between instances of …`). NaN compares as unordered (nil is not
/// returned for it; callers check `isUnordered`).
func pyCompare(_ a: JinjaValue, _ b: JinjaValue) -> Int? {
    if case let .list(x) = a, case let .list(y) = b, x.isTuple == y.isTuple { return pyCompareLists(x, y) }
    return pyCompareScalars(a, b)
}

/// Lexicographic order: the first elements that differ decide, else the shorter is less.
@inline(never)
private func pyCompareLists(_ x: JinjaList, _ y: JinjaList) -> Int? {
    for i in 0..<min(x.items.count, y.items.count) where !pyEqual(x.items[i], y.items[i]) {
        return pyCompare(x.items[i], y.items[i])
    }
    return x.items.count < y.items.count ? -1 : (x.items.count == y.items.count ? 0 : 1)
}

@inline(never)
private func pyCompareScalars(_ a: JinjaValue, _ b: JinjaValue) -> Int? {
    if let x = a.number, let y = b.number {
        switch (x, y) {
        case let (.int(p), .int(q)): return p < q ? -1 : (p == q ? 0 : 1)
        default:
            let p = x.double
            let q = y.double
            return p < q ? -1 : (p == q ? 0 : 1)
        }
    }
    switch (a, b) {
    case let (.string(x), .string(y)):
        // UTF-8 byte order is code point order.
        var i = x.utf8.makeIterator()
        var j = y.utf8.makeIterator()
        while true {
            switch (i.next(), j.next()) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case let (p?, q?): if p != q { return p < q ? -1 : 1 }
            }
        }
    default:
        return nil
    }
}

/// True if either side is a float NaN (every ordering comparison is then false).
func isUnordered(_ a: JinjaValue, _ b: JinjaValue) -> Bool {
    if case let .float(f) = a, f.isNaN { return true }
    if case let .float(f) = b, f.isNaN { return true }
    return false
}

// MARK: - Text

/// Python's `repr(float)` (also `str`): shortest round-trip digits, exponent form below 1e-4
/// and from 1e16. Swift's `description` follows the same rules.
func pyFloatRepr(_ f: Double) -> String {
    if f.isNaN { return "nan" }
    if f.isInfinite { return f < 0 ? "-inf" : "inf" }
    return f.description
}

/// Python's `str.isprintable()` for one scalar: false for controls, format characters,
/// surrogates, private use, unassigned, and separators other than the space.
func pyIsPrintable(_ c: Unicode.Scalar) -> Bool {
    if c == " " { return true }
    switch c.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
        return false
    default:
        return true
    }
}

/// Python's `repr(str)`: single quotes unless the text has a `'` and no `"`.
func pyStringRepr(_ s: String) -> String {
    var hasSingle = false
    var hasDouble = false
    for c in s.unicodeScalars {
        if c == "'" { hasSingle = true } else if c == "\"" { hasDouble = true }
    }
    let quote: Unicode.Scalar = hasSingle && !hasDouble ? "\"" : "'"
    var out = String.UnicodeScalarView()
    out.append(quote)
    for c in s.unicodeScalars {
        switch c {
        case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
        case "\n": out.append(contentsOf: "\\n".unicodeScalars)
        case "\r": out.append(contentsOf: "\\r".unicodeScalars)
        case "\t": out.append(contentsOf: "\\t".unicodeScalars)
        default:
            if c == quote {
                out.append("\\")
                out.append(c)
            } else if (c.value >= 0x20 && c.value < 0x7F) || (c.value >= 0xA0 && pyIsPrintable(c)) {
                out.append(c)
            } else {
                let v = c.value
                let esc = v <= 0xFF ? "\\x" + hexDigits(v, 2) : v <= 0xFFFF ? "\\u" + hexDigits(v, 4) : "\\U" + hexDigits(v, 8)
                out.append(contentsOf: esc.unicodeScalars)
            }
        }
    }
    out.append(quote)
    return String(out)
}

/// Appends Python's `str(v)` (what `{{ v }}` prints) or, with `repr`, `repr(v)`; fails with
/// `tooLong` once `out` passes `limit` UTF-8 bytes, so printing a huge value stops early.
func pyAppendText(_ v: JinjaValue, repr: Bool, to out: inout String, limit: Int, tooLong: () -> ChatTemplateError) throws(ChatTemplateError) {
    if out.utf8.count > limit { throw tooLong() }
    switch v {
    case let .list(l): try pyAppendList(l, to: &out, limit: limit, tooLong: tooLong)
    case let .dict(d): try pyAppendDict(d, to: &out, limit: limit, tooLong: tooLong)
    case let .namespace(ns):
        out += "<Namespace "
        try pyAppendDict(ns.attributes, to: &out, limit: limit, tooLong: tooLong)
        out += ">"
    default: pyAppendScalar(v, repr: repr, to: &out)
    }
    if out.utf8.count > limit { throw tooLong() }
}

@inline(never)
private func pyAppendList(_ l: JinjaList, to out: inout String, limit: Int, tooLong: () -> ChatTemplateError) throws(ChatTemplateError) {
    out += l.isTuple ? "(" : "["
    for i in l.items.indices {
        if i > 0 { out += ", " }
        try pyAppendText(l.items[i], repr: true, to: &out, limit: limit, tooLong: tooLong)
    }
    if l.isTuple && l.items.count == 1 { out += "," }
    out += l.isTuple ? ")" : "]"
}

@inline(never)
private func pyAppendDict(_ d: JinjaDict, to out: inout String, limit: Int, tooLong: () -> ChatTemplateError) throws(ChatTemplateError) {
    out += "{"
    for i in d.keys.indices {
        if i > 0 { out += ", " }
        try pyAppendText(d.keys[i], repr: true, to: &out, limit: limit, tooLong: tooLong)
        out += ": "
        try pyAppendText(d.values[i], repr: true, to: &out, limit: limit, tooLong: tooLong)
    }
    out += "}"
}

/// A value that holds no other values.
@inline(never)
private func pyAppendScalar(_ v: JinjaValue, repr: Bool, to out: inout String) {
    switch v {
    case .undefined: if repr { out += "Undefined" }
    case .none: out += "None"
    case let .bool(b): out += b ? "True" : "False"
    case let .int(i): out += String(i)
    case let .float(f): out += pyFloatRepr(f)
    case let .string(s): out += repr ? pyStringRepr(s) : s
    case let .callable(c):
        switch c {
        case let .global(name): out += "<function \(name)>"
        case let .macro(m): out += "<Macro '\(m.name)'>"
        case let .method(receiver, name): out += "<built-in method \(name) of \(receiver.typeName) object>"
        }
    case let .loop(l): out += "<LoopContext \(l.index0 + 1)/\(l.items.count)>"
    case .list, .dict, .namespace: preconditionFailure("a container")
    }
}

// MARK: - Python string operations (on Unicode scalars, as Python strings are)

extension String {
    var scalarArray: [Unicode.Scalar] { Array(unicodeScalars) }

    init(scalars: some Sequence<Unicode.Scalar>) {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars)
        self = String(v)
    }

    /// Python `str.strip(chars)`, `lstrip`, `rstrip`: `chars` nil strips whitespace.
    func pyStrip(_ chars: String?, leading: Bool = true, trailing: Bool = true) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        let strip: (Unicode.Scalar) -> Bool = { c in set.map { $0.contains(c) } ?? isPythonWhitespace(c) }
        let s = scalarArray
        var lo = 0
        var hi = s.count
        if leading { while lo < hi, strip(s[lo]) { lo += 1 } }
        if trailing { while hi > lo, strip(s[hi - 1]) { hi -= 1 } }
        return String(scalars: s[lo..<hi])
    }

    /// Calls `body` with the UTF-8 bytes of `self` and the byte offset of each occurrence of
    /// `needle` (non-empty), left to right, at most `limit` of them; occurrences do not overlap
    /// unless `overlapping`. Searches with `memchr` / `memcmp`: templates run it over
    /// megabytes, in debug builds too.
    func pyForEachOccurrence(of needle: String, limit: Int = .max, overlapping: Bool = false,
                             _ body: (_ haystack: UnsafeBufferPointer<UInt8>, _ offset: Int) -> Void) {
        var haystack = self
        var pattern = needle
        haystack.withUTF8 { h in
            pattern.withUTF8 { n in
                guard let hBase = h.baseAddress, let nBase = n.baseAddress, n.count <= h.count else { return }
                let first = Int32(nBase[0])
                let last = h.count - n.count
                var i = 0
                var found = 0
                while i <= last, found < limit {
                    guard let hit = memchr(hBase + i, first, last - i + 1) else { return }
                    let j = UnsafeRawPointer(hBase).distance(to: UnsafeRawPointer(hit))
                    if n.count == 1 || memcmp(hBase + j, nBase, n.count) == 0 {
                        body(h, j)
                        found += 1
                        i = overlapping ? j + 1 : j + n.count
                    } else {
                        i = j + 1
                    }
                }
            }
        }
    }

    /// Byte offsets of non-overlapping occurrences of `needle` (non-empty), left to right.
    func pyOccurrences(of needle: String, limit: Int = .max) -> [Int] {
        var out: [Int] = []
        pyForEachOccurrence(of: needle, limit: limit) { _, offset in out.append(offset) }
        return out
    }

    /// Python `str.count(needle)` for a non-empty `needle`: non-overlapping occurrences.
    func pyCount(_ needle: String, limit: Int = .max) -> Int {
        var n = 0
        pyForEachOccurrence(of: needle, limit: limit) { _, _ in n += 1 }
        return n
    }

    /// Python `str.find(needle)` (or, with `last`, `rfind`): the index in code points of the
    /// first (last) occurrence, or -1. An empty needle is found at 0 (at the end).
    func pyFind(_ needle: String, last: Bool) -> Int {
        if needle.isEmpty { return last ? unicodeScalars.count : 0 }
        var offset: Int?
        pyForEachOccurrence(of: needle, limit: last ? .max : 1, overlapping: true) { _, i in offset = i }
        guard let offset else { return -1 }
        // Code points before the byte offset: the bytes that are not continuation bytes.
        return utf8.prefix(offset).count { $0 & 0xC0 != 0x80 }
    }

    func pyContains(_ needle: String) -> Bool {
        if needle.isEmpty { return true }
        var found = false
        pyForEachOccurrence(of: needle, limit: 1) { _, _ in found = true }
        return found
    }

    func pyHasPrefix(_ p: String) -> Bool { utf8.starts(with: p.utf8) }

    func pyHasSuffix(_ p: String) -> Bool { utf8.reversed().starts(with: p.utf8.reversed()) }

    /// Python `str.replace(old, new, count)`; `count` < 0 replaces all.
    func pyReplace(_ old: String, _ new: String, count: Int) -> String {
        if old.isEmpty {
            // Python inserts `new` before every code point and at the end.
            var out = ""
            var k = 0
            for c in unicodeScalars {
                if count < 0 || k < count {
                    out += new
                    k += 1
                }
                out.unicodeScalars.append(c)
            }
            if count < 0 || k < count { out += new }
            return out
        }
        let limit = count < 0 ? Int.max : count
        let hits = pyCount(old, limit: limit)
        guard hits > 0 else { return self }
        let oldCount = old.utf8.count
        var replacement = new
        return replacement.withUTF8 { r in
            String(unsafeUninitializedCapacity: utf8.count + hits * (r.count - oldCount)) { out in
                // Copies the text between hits and the replacement at each, as raw bytes.
                var written = 0
                var last = 0
                func copy(_ from: UnsafePointer<UInt8>?, _ n: Int) {
                    guard n > 0, let from, let to = out.baseAddress else { return }
                    (to + written).update(from: from, count: n)
                    written += n
                }
                pyForEachOccurrence(of: old, limit: limit) { h, i in
                    copy(h.baseAddress.map { $0 + last }, i - last)
                    copy(r.baseAddress, r.count)
                    last = i + oldCount
                }
                var rest = self
                rest.withUTF8 { h in copy(h.baseAddress.map { $0 + last }, h.count - last) }
                return written
            }
        }
    }

    /// Python `str.split(sep, maxsplit)`; `sep` nil splits on whitespace runs and drops empties.
    func pySplit(_ sep: String?, maxSplit: Int) -> [String] {
        guard let sep else {
            var out: [String] = []
            let s = scalarArray
            var i = 0
            while i < s.count {
                while i < s.count, isPythonWhitespace(s[i]) { i += 1 }
                guard i < s.count else { break }
                if maxSplit >= 0 && out.count == maxSplit {
                    var end = s.count
                    while end > i, isPythonWhitespace(s[end - 1]) { end -= 1 }
                    out.append(String(scalars: s[i..<end]))
                    break
                }
                let start = i
                while i < s.count, !isPythonWhitespace(s[i]) { i += 1 }
                out.append(String(scalars: s[start..<i]))
            }
            return out
        }
        let hits = pyOccurrences(of: sep, limit: maxSplit < 0 ? .max : maxSplit)
        let h = Array(utf8)
        var out: [String] = []
        var last = 0
        for i in hits {
            out.append(String(decoding: h[last..<i], as: UTF8.self))
            last = i + sep.utf8.count
        }
        out.append(String(decoding: h[last...], as: UTF8.self))
        return out
    }

    /// Python `str.splitlines()`.
    func pySplitLines() -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        var pendingCR = false
        for c in unicodeScalars {
            if pendingCR {
                pendingCR = false
                if c == "\n" { continue }
            }
            switch c.value {
            case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
                out.append(String(current))
                current = String.UnicodeScalarView()
                pendingCR = c == "\r"
            default:
                current.append(c)
            }
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }

    /// Python `str.title()`: a cased character after an uncased one is titlecased, the rest lowercased.
    func pyTitle() -> String {
        var out = ""
        var previousCased = false
        for c in unicodeScalars {
            out += previousCased ? c.properties.lowercaseMapping : c.properties.titlecaseMapping
            previousCased = c.properties.isCased
        }
        return out
    }

    /// Python `str.capitalize()`: the first character titlecased, the rest lowercased.
    func pyCapitalize() -> String {
        var out = ""
        for (i, c) in unicodeScalars.enumerated() {
            out += i == 0 ? c.properties.titlecaseMapping : c.properties.lowercaseMapping
        }
        return out
    }

    func pyUpper() -> String {
        var out = ""
        for c in unicodeScalars { out += c.properties.uppercaseMapping }
        return out
    }

    func pyLower() -> String {
        var out = ""
        for c in unicodeScalars { out += c.properties.lowercaseMapping }
        return out
    }

    /// Python `str.islower()` / `isupper()`: some cased character, and none of the other case.
    func pyIsCase(upper: Bool) -> Bool {
        var cased = false
        for c in unicodeScalars {
            if upper ? c.properties.isLowercase : c.properties.isUppercase { return false }
            if c.properties.isCased { cased = true }
        }
        return cased
    }

    /// Python `str.center(width)`.
    func pyCenter(_ width: Int, fill: Unicode.Scalar = " ") -> String {
        let n = unicodeScalars.count
        guard width > n else { return self }
        let margin = width - n
        let left = margin / 2 + (margin & width & 1)
        let pad = { (k: Int) in String(repeating: String(Character(fill)), count: k) }
        return pad(left) + self + pad(margin - left)
    }
}

/// Python's `\w` for one scalar: letters, digits and numbers, the underscore.
func pyIsWordCharacter(_ c: Unicode.Scalar) -> Bool {
    if c == "_" { return true }
    switch c.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
         .decimalNumber, .letterNumber, .otherNumber:
        return true
    default:
        return false
    }
}
