/// Why a `tokenizer.json` or SentencePiece `tokenizer.model` could not be loaded.
///
/// Every case names the JSON field (a dotted path such as `model.merges[12]`), so a one-line
/// message tells the user what is wrong where. Bad input never traps.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// The bytes are not JSON, or a field has the wrong JSON type.
    case badJSON(field: String, reason: String)
    /// A component this engine does not implement: a model type (`Unigram`, `WordPiece`), a
    /// normalizer, a pre-tokenizer, a decoder, or a model option such as `dropout`.
    case unsupported(field: String, found: String, supported: [String])
    /// A count or size above this reader's bound, checked before anything is allocated for it.
    case tooLarge(field: String, count: Int, limit: Int)
    /// A token id outside `0..<limit`.
    case idOutOfRange(field: String, id: Int, limit: Int)
    /// Two different tokens claim one id.
    case duplicateID(field: String, id: Int, first: String, second: String)
    /// A merge or a named special token refers to a token that is not in the vocabulary.
    case unknownToken(field: String, token: String)
    /// A field whose value breaks the format's rules (a merge that is not two tokens, …).
    case malformed(field: String, reason: String)
    /// A SentencePiece `tokenizer.model` that cannot be read or is not supported: bad protobuf
    /// wire data (a varint past 10 bytes, a length past the end, a group), a count above a
    /// bound, a missing or duplicate piece, or an option this engine does not implement.
    case badModelProto(field: String, reason: String)
    /// A `format` string that `loadTokenizer(format:bytes:)` does not know.
    case unknownFormat(String)

    /// One line: `tokenizer.json: <field>: <what is wrong>`.
    public var description: String {
        switch self {
        case let .badJSON(field, reason):
            return "tokenizer.json: \(field): invalid JSON: \(reason)"
        case let .unsupported(field, found, supported):
            let list = supported.isEmpty ? "none" : supported.joined(separator: ", ")
            return "tokenizer.json: \(field): '\(found)' is not supported (supported: \(list))"
        case let .tooLarge(field, count, limit):
            return "tokenizer.json: \(field): \(count) is above the limit of \(limit)"
        case let .idOutOfRange(field, id, limit):
            return "tokenizer.json: \(field): id \(id) is outside 0..<\(limit)"
        case let .duplicateID(field, id, first, second):
            return "tokenizer.json: \(field): id \(id) is given to both '\(first)' and '\(second)'"
        case let .unknownToken(field, token):
            return "tokenizer.json: \(field): token '\(token)' is not in the vocabulary"
        case let .malformed(field, reason):
            return "tokenizer.json: \(field): \(reason)"
        case let .badModelProto(field, reason):
            return "tokenizer.model: \(field): \(reason)"
        case let .unknownFormat(format):
            return "tokenizer format '\(format)' is not known (known: \(TokenizerFormat.allCases.map(\.rawValue).joined(separator: ", ")))"
        }
    }
}
