import Foundation
import RillFormat

/// One value of a `config.json`, kept as JSON has it so that each field can be read the way
/// its reference implementation reads it (a flag tested for truth accepts `1`, an integer
/// accepts `4.0`) instead of the way a Swift type would.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        // Order matters: JSONDecoder decodes `true` as no number and `1` as no Bool, so the
        // two stay apart.
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = JSONValue.pythonConstants[s].map { .number($0) } ?? .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// The top-level object of `data`. Python's `json` module, which writes and reads every
    /// Hugging Face config, also accepts the bare constants `NaN`, `Infinity` and `-Infinity`;
    /// so does this: when strict JSON fails, those tokens outside strings are rewritten as
    /// marked strings (``pythonConstants``) and the text decoded again. The strict error is the
    /// one reported. (Foundation's JSON5 mode would read them too, but it traps on some
    /// malformed input, which a hostile file must never do.)
    static func object(from data: Data, path: String) throws(RillFileError) -> [String: JSONValue] {
        // Swift 6.0's JSONDecoder traps on some bad keys: see checkJSONBytes.
        do { try checkJSONBytes(data) } catch { throw .badJSON(path: path, field: "config", reason: "\(error)") }
        do {
            return try JSONDecoder().decode([String: JSONValue].self, from: data)
        } catch {
            if let rewritten = rewritingPythonConstants([UInt8](data)),
               let o = try? JSONDecoder().decode([String: JSONValue].self, from: Data(rewritten)) {
                return o
            }
            throw .badJSON(path: path, field: "config", reason: describeDecodingError(error))
        }
    }

    /// Python's non-standard number constants, as the marked strings they are rewritten to.
    static let pythonConstants: [String: Double] = ["\u{1}NaN": .nan, "\u{1}Infinity": .infinity, "\u{1}-Infinity": -.infinity]

    /// `bytes` with `NaN`, `Infinity` and `-Infinity` outside strings replaced by
    /// `"\u0001NaN"` etc., or nil when there is none.
    static func rewritingPythonConstants(_ bytes: [UInt8]) -> [UInt8]? {
        let tokens: [[UInt8]] = [Array("-Infinity".utf8), Array("Infinity".utf8), Array("NaN".utf8)]
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 64)
        var inString = false, escaped = false, changed = false
        var i = 0
        scan: while i < bytes.count {
            let b = bytes[i]
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
            } else if b == UInt8(ascii: "\"") {
                inString = true
            } else {
                for t in tokens where bytes.count - i >= t.count && bytes[i..<(i + t.count)].elementsEqual(t) {
                    out += Array("\"\\u0001".utf8) + t + [UInt8(ascii: "\"")]
                    i += t.count
                    changed = true
                    continue scan
                }
            }
            out.append(b)
            i += 1
        }
        return changed ? out : nil
    }

    /// The value as a user would recognise it in their file, shortened for error messages.
    var shown: String {
        switch self {
        case .null: return "null"
        case let .bool(b): return "\(b)"
        case let .number(n):
            if n.isFinite, n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
            return "\(n)"
        case let .string(s): return "\"\(s.prefix(40))\(s.count > 40 ? "…" : "")\""
        case let .array(a): return "[" + a.prefix(6).map(\.shown).joined(separator: ", ") + (a.count > 6 ? ", …]" : "]")
        case .object: return "an object"
        }
    }
}
