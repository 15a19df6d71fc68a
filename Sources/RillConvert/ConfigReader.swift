import RillFormat

/// Reads hyper-parameters from one JSON object — a `config.json`, or an object nested in one
/// such as SAMBA's `attn` — the way the Python reference reads them, and records where each
/// came from (``ConfigSource``) for `rill inspect`.
///
/// The rules, from `Formats/rill.md` §4.3, are the union of what the reference configuration
/// classes have accepted across `transformers` versions (4.x set any attribute as given;
/// 5.x validates types strictly), refusing only what Python would refuse or misread:
/// - a flag (a field the model tests for truth) takes `true`/`false`, any number (`0` is
///   false) and `null` (false); a string is refused, since Python reads `"false"` as true;
/// - an integer takes an integral number (`4.0`); `4.5`, a flag or a string is refused;
/// - a missing key takes the reference class's default, supplied by the caller;
/// - a value may stand under one of the names the reference's `attribute_map` maps onto the
///   field; two names with different values are refused rather than guessed between.
///
/// Every error names the file and the key as the user wrote it (`attn.window_size`).
struct ConfigReader {
    let path: String
    /// The dotted prefix of this object's keys in messages (`""`, `"attn."`).
    let prefix: String
    private let object: [String: JSONValue]
    /// Where each field of the `.rill` config came from, by the field's name there.
    private(set) var sources: [String: ConfigSource] = [:]
    /// The keys of `object` some reader looked at (with `prefix`).
    private(set) var consulted: Set<String> = []
    private var unreadNested: [String] = []

    init(_ object: [String: JSONValue], path: String, prefix: String = "") {
        self.object = object
        self.path = path
        self.prefix = prefix
    }

    var keys: [String] { object.keys.map { prefix + $0 } }

    /// Whether `key` is present and not null.
    func has(_ key: String) -> Bool {
        if let v = object[key], v != .null { return true }
        return false
    }

    /// Marks keys as read without reading them: keys the reference defines but that do not
    /// change inference (initialisation, training and caching settings).
    mutating func consult(_ keys: some Sequence<String>) {
        for k in keys where object[k] != nil { consulted.insert(prefix + k) }
    }

    /// The value under the first present key of `keys`, and that key. `keys[0]` is the
    /// reference's own name; the others are aliases its `attribute_map` maps onto it.
    mutating func lookup(_ keys: [String]) throws(RillFileError) -> (key: String, value: JSONValue)? {
        var found: (key: String, value: JSONValue)?
        for k in keys {
            guard let v = object[k] else { continue }
            consulted.insert(prefix + k)
            if let f = found, f.value != v {
                throw .invalidField(
                    path: path, field: prefix + k, expected: "the same value as '\(prefix + f.key)' (the reference maps both names onto one field)",
                    found: "\(v.shown) against \(f.value.shown)")
            }
            if found == nil { found = (k, v) }
        }
        return found
    }

    /// Records that `field` was read from `key` (for values read with ``lookup(_:)``).
    mutating func found(_ field: String, _ key: String) {
        sources[field] = ConfigSource(.file, prefix + key)
    }

    /// Records that `field` was computed by `rule`.
    mutating func derived(_ field: String, _ rule: String) {
        sources[field] = ConfigSource(.derived, rule)
    }

    /// Records where `field` came from: the key it was found under, or its default.
    private mutating func note(_ field: String?, _ keys: [String], _ found: String?) {
        guard let field else { return }
        if let found {
            sources[field] = ConfigSource(found == keys[0] ? .file : .alias, prefix + found)
        } else {
            sources[field] = ConfigSource(.default, prefix + keys[0])
        }
    }

    func error(_ key: String, _ expected: String, _ found: JSONValue) -> RillFileError {
        .invalidField(path: path, field: prefix + key, expected: expected, found: found.shown)
    }

    func error(_ key: String, _ expected: String, found: String) -> RillFileError {
        .invalidField(path: path, field: prefix + key, expected: expected, found: found)
    }

    // MARK: - Typed reads

    /// An integer in `range`. `field` is the `.rill` config key it fills (nil for keys that
    /// only feed a derived value); `nullIsDefault` for keys the reference declares
    /// `Optional` with a default meaning for `None`.
    mutating func int(
        _ field: String?, _ keys: [String], default def: Int?, in range: ClosedRange<Int>, nullIsDefault: Bool = false
    ) throws(RillFileError) -> Int {
        guard let (key, value) = try lookup(keys), !(nullIsDefault && value == .null) else {
            guard let def else {
                throw .invalidField(path: path, field: prefix + keys[0], expected: "a value (the reference has no default for it)", found: "none")
            }
            note(field, keys, nil)
            return def
        }
        let n = try integer(value, key: key, in: range)
        note(field, keys, key)
        return n
    }

    /// `value` as an integer in `range`; the bounds are checked on the number before it
    /// becomes an `Int`, so 1e300 is an error, not a trap.
    func integer(_ value: JSONValue, key: String, in range: ClosedRange<Int>) throws(RillFileError) -> Int {
        guard case let .number(x) = value else { throw error(key, "an integer", value) }
        guard x.isFinite, x == x.rounded(.towardZero) else { throw error(key, "an integer", value) }
        guard Double(range.lowerBound) <= x, x <= Double(range.upperBound) else {
            throw error(key, "an integer in \(range.lowerBound)…\(range.upperBound)", value)
        }
        return Int(x)
    }

    /// A flag, read as Python's `if value:` reads it.
    mutating func flag(_ field: String?, _ keys: [String], default def: Bool) throws(RillFileError) -> Bool {
        guard let (key, value) = try lookup(keys) else {
            note(field, keys, nil)
            return def
        }
        let b = try truth(value, key: key)
        note(field, keys, key)
        return b
    }

    func truth(_ value: JSONValue, key: String) throws(RillFileError) -> Bool {
        switch value {
        case let .bool(b): return b
        case .null: return false
        case let .number(x) where x.isFinite: return x != 0
        case .string:
            throw error(key, "true or false (a string is always true to Python, whatever it says)", value)
        default: throw error(key, "true or false", value)
        }
    }

    /// A finite number for which `valid` holds (`expected` says what that is).
    mutating func number(
        _ field: String?, _ keys: [String], default def: Double, expected: String, _ valid: (Double) -> Bool
    ) throws(RillFileError) -> Double {
        guard let (key, value) = try lookup(keys) else {
            note(field, keys, nil)
            return def
        }
        guard case let .number(x) = value, x.isFinite, valid(x) else { throw error(key, expected, value) }
        note(field, keys, key)
        return x
    }

    /// A string, one of `allowed` when given (`why` says why the others are refused).
    mutating func string(
        _ field: String?, _ keys: [String], default def: String, allowed: [String]? = nil, why: String = ""
    ) throws(RillFileError) -> String {
        guard let (key, value) = try lookup(keys) else {
            note(field, keys, nil)
            return def
        }
        guard case let .string(s) = value else { throw error(key, "a string", value) }
        if let allowed, !allowed.contains(s) {
            throw error(key, allowed.map { "\"\($0)\"" }.joined(separator: " or ") + (why.isEmpty ? "" : " (\(why))"), value)
        }
        note(field, keys, key)
        return s
    }

    /// The object under `key` as a reader of its own, or nil when absent.
    mutating func nested(_ key: String, _ object: [String: JSONValue]) -> ConfigReader {
        consulted.insert(prefix + key)
        return ConfigReader(object, path: path, prefix: prefix + key + ".")
    }

    /// Takes over what a nested reader consulted and recorded.
    mutating func absorb(_ child: ConfigReader) {
        consulted.formUnion(child.consulted)
        sources.merge(child.sources) { _, new in new }
        unreadNested += child.unread
    }

    /// Keys of this object and of the nested ones absorbed that no reader looked at.
    var unread: [String] { keys.filter { !consulted.contains($0) } + unreadNested }
}
