import Foundation
import RillFormat

// MARK: - The parts of tokenizer.json that Rill reads (unknown fields are ignored)

/// The top level of a Hugging Face `tokenizer.json`.
struct TokenizerJSON: Decodable {
    var addedTokens: [AddedTokenJSON]?
    var normalizer: ComponentJSON?
    var preTokenizer: ComponentJSON?
    var decoder: ComponentJSON?
    var model: ModelJSON

    enum CodingKeys: String, CodingKey {
        case addedTokens = "added_tokens", normalizer, preTokenizer = "pre_tokenizer", decoder, model
    }
}

/// One entry of `added_tokens`; flags default as in `tokenizers` when missing.
struct AddedTokenJSON: Decodable {
    var id: Int
    var content: String
    var singleWord: Bool?
    var lstrip: Bool?
    var rstrip: Bool?
    var normalized: Bool?
    var special: Bool?

    enum CodingKeys: String, CodingKey {
        case id, content, singleWord = "single_word", lstrip, rstrip, normalized, special
    }
}

/// A normalizer, pre-tokenizer or decoder: its `type`, the options Rill looks at, and the
/// children of a `Sequence` (`normalizers`, `pretokenizers` or `decoders`).
struct ComponentJSON: Decodable {
    var type: String
    var addPrefixSpace: Bool?
    var useRegex: Bool?
    var children: [ComponentJSON]?
    /// `Prepend`: the text put in front.
    var prepend: String?
    /// `Replace`: `{"String": s}` (kept) or `{"Regex": r}` (refused later).
    var pattern: [String: String]?
    /// `Replace` / `Strip`: the replacement, or the character stripped.
    var content: String?
    /// `Strip`: how many characters to strip at the start / end.
    var start: Int?
    var stop: Int?
    /// `Metaspace`: the space symbol, when to prepend it, whether to split on it.
    var replacement: String?
    var prependScheme: String?
    var split: Bool?

    enum CodingKeys: String, CodingKey {
        case type, addPrefixSpace = "add_prefix_space", useRegex = "use_regex"
        case normalizers, pretokenizers, decoders
        case prepend, pattern, content, start, stop, replacement, prependScheme = "prepend_scheme", split
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        addPrefixSpace = try c.decodeIfPresent(Bool.self, forKey: .addPrefixSpace)
        useRegex = try c.decodeIfPresent(Bool.self, forKey: .useRegex)
        prepend = try c.decodeIfPresent(String.self, forKey: .prepend)
        pattern = try c.decodeIfPresent([String: String].self, forKey: .pattern)
        content = try c.decodeIfPresent(String.self, forKey: .content)
        start = try c.decodeIfPresent(Int.self, forKey: .start)
        stop = try c.decodeIfPresent(Int.self, forKey: .stop)
        replacement = try c.decodeIfPresent(String.self, forKey: .replacement)
        prependScheme = try c.decodeIfPresent(String.self, forKey: .prependScheme)
        split = try c.decodeIfPresent(Bool.self, forKey: .split)
        children = try c.decodeIfPresent([ComponentJSON].self, forKey: .normalizers)
            ?? c.decodeIfPresent([ComponentJSON].self, forKey: .pretokenizers)
            ?? c.decodeIfPresent([ComponentJSON].self, forKey: .decoders)
    }
}

/// `model`: its type and options through Codable. A BPE model's `vocab` and `merges` are filled
/// in by `JSONFieldScanner` afterwards (see there why); for any other type only `type` matters,
/// so that the error says "unsupported" rather than "bad JSON".
struct ModelJSON: Decodable {
    var type: String
    /// Token → id, in file order.
    var vocab: [(String, Int)] = []
    /// Each merge's parts: `["a", "b"]`, or `"a b"` split at spaces (other counts are refused later).
    var merges: [[String]] = []
    var unkToken: String?
    var fuseUnk: Bool?
    var byteFallback: Bool?
    var ignoreMerges: Bool?
    var dropout: Double?
    var continuingSubwordPrefix: String?
    var endOfWordSuffix: String?

    enum CodingKeys: String, CodingKey {
        case type, merges, unkToken = "unk_token", fuseUnk = "fuse_unk"
        case byteFallback = "byte_fallback", ignoreMerges = "ignore_merges", dropout
        case continuingSubwordPrefix = "continuing_subword_prefix", endOfWordSuffix = "end_of_word_suffix"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // Old files have no `type`; `tokenizers` then recognises BPE by its `merges`.
        if let type = try c.decodeIfPresent(String.self, forKey: .type) {
            self.type = type
        } else {
            self.type = c.contains(.merges) ? "BPE" : "(missing)"
        }
        guard type == "BPE" else { return }
        unkToken = try c.decodeIfPresent(String.self, forKey: .unkToken)
        fuseUnk = try c.decodeIfPresent(Bool.self, forKey: .fuseUnk)
        byteFallback = try c.decodeIfPresent(Bool.self, forKey: .byteFallback)
        ignoreMerges = try c.decodeIfPresent(Bool.self, forKey: .ignoreMerges)
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout)
        continuingSubwordPrefix = try c.decodeIfPresent(String.self, forKey: .continuingSubwordPrefix)
        endOfWordSuffix = try c.decodeIfPresent(String.self, forKey: .endOfWordSuffix)
    }
}

// MARK: - Decoding with typed errors

extension TokenizerJSON {
    /// Decodes `bytes`, turning Foundation's errors into `TokenizerError.badJSON` with the path.
    /// `vocabLimit` / `mergesLimit` bound the two large fields while they are read.
    static func decode(_ bytes: [UInt8], vocabLimit: Int, mergesLimit: Int) throws(TokenizerError) -> TokenizerJSON {
        var json: TokenizerJSON
        // Swift 6.0's JSONDecoder traps on some bad keys: see checkJSONBytes.
        do { try checkJSONBytes(bytes) } catch { throw .badJSON(field: "(root)", reason: "\(error)") }
        do {
            json = try JSONDecoder().decode(TokenizerJSON.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw Self.describe(error)
        } catch {
            throw .badJSON(field: "(root)", reason: "\(error)")
        }
        guard json.model.type == "BPE" else { return json }
        let fields = try JSONFieldScanner.locateModelFields(bytes)
        guard let vocab = fields.vocab else { throw .badJSON(field: "model.vocab", reason: "missing") }
        json.model.vocab = try JSONFieldScanner.vocab(bytes, vocab, limit: vocabLimit)
        if let merges = fields.merges {
            json.model.merges = try JSONFieldScanner.merges(bytes, merges, limit: mergesLimit)
        }
        return json
    }

    private static func describe(_ error: DecodingError) -> TokenizerError {
        func path(_ keys: [any CodingKey]) -> String {
            var s = ""
            for key in keys {
                if let i = key.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + key.stringValue }
            }
            return s.isEmpty ? "(root)" : s
        }
        switch error {
        case let .typeMismatch(type, context):
            return .badJSON(field: path(context.codingPath), reason: "expected \(type): \(context.debugDescription)")
        case let .valueNotFound(type, context):
            return .badJSON(field: path(context.codingPath), reason: "expected \(type), found null")
        case let .keyNotFound(key, context):
            return .badJSON(field: path(context.codingPath + [key]), reason: "missing")
        case let .dataCorrupted(context):
            var reason = context.debugDescription
            if let underlying = context.underlyingError { reason += " (\(underlying))" }
            return .badJSON(field: path(context.codingPath), reason: reason)
        @unknown default:
            return .badJSON(field: "(root)", reason: "\(error)")
        }
    }
}
