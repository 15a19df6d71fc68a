import Foundation

extension MetaspaceBPETokenizer {
    /// Loads a Metaspace / byte-fallback BPE tokenizer from the bytes of a `tokenizer.json`.
    ///
    /// Accepted: `model.type` `BPE` (no dropout, no subword prefix/suffix; `byte_fallback`,
    /// `unk_token`, `fuse_unk`, `ignore_merges` as given); `normalizer` null, `Prepend`,
    /// `Replace` with a `String` pattern, `NFC`, or a `Sequence` of them; `pre_tokenizer` null
    /// or `Metaspace` (`prepend_scheme` always/first/never or the older `add_prefix_space`;
    /// `split`); `decoder` a `Sequence` of `Replace` (String pattern), `ByteFallback`, `Fuse`,
    /// `Metaspace` and, after `Fuse`, `Strip(" ", start, 0)`.
    ///
    /// BOS/EOS: named by `bosToken` / `eosToken`, else the first special added token among
    /// `<s>`, `<bos>`, `<|begin_of_text|>` (BOS) and `</s>`, `<eos>`, `<|end_of_text|>` (EOS).
    ///
    /// - Throws: `TokenizerError` naming the field, as `ByteLevelBPETokenizer` does.
    public init(tokenizerJSON: [UInt8], bosToken: String? = nil, eosToken: String? = nil) throws(TokenizerError) {
        typealias Bounds = ByteLevelBPETokenizer
        guard tokenizerJSON.count <= Bounds.maxJSONBytes else {
            throw .tooLarge(field: "(file size)", count: tokenizerJSON.count, limit: Bounds.maxJSONBytes)
        }
        let json = try TokenizerJSON.decode(tokenizerJSON, vocabLimit: Bounds.maxVocabEntries, mergesLimit: Bounds.maxMerges)
        try self.init(json: json, bosToken: bosToken, eosToken: eosToken)
    }

    /// Loads from a decoded `tokenizer.json` (see `init(tokenizerJSON:bosToken:eosToken:)`).
    init(json: TokenizerJSON, bosToken: String?, eosToken: String?) throws(TokenizerError) {
        typealias Bounds = ByteLevelBPETokenizer
        let model = json.model
        try model.checkPlainBPE()
        let normalizer = try Self.normalizerSteps(json.normalizer)
        let metaspace = try Self.metaspaceOptions(json.preTokenizer)
        let decoder = try DecoderChain(json.decoder)

        let v = try IndexedVocabulary(vocab: model.vocab, addedTokens: json.addedTokens ?? [])
        let vocab = v.vocab, added = v.added, idToToken = v.idToToken
        // Single-character tokens by scalar, for the byte fallback's first try.
        var scalarIDs: [UInt32: Int32] = [:]
        for (token, id) in vocab {
            let scalars = token.unicodeScalars
            if scalars.count == 1, let s = scalars.first { scalarIDs[s.value] = id }
        }

        self.vocabulary = v
        self.scalarIDs = scalarIDs
        self.merges = try Bounds.merges(model.merges, vocab: vocab)
        if model.byteFallback == true {
            self.byteIDs = (0..<256).map { vocab[Self.byteToken(UInt8($0))] ?? -1 }
        } else {
            self.byteIDs = [Int32](repeating: -1, count: 256)
        }
        self.unknownID = try v.unknownID(model.unkToken)
        self.fuseUnknown = model.fuseUnk ?? false
        self.ignoreMerges = model.ignoreMerges ?? false
        self.normalizer = normalizer
        self.metaspace = metaspace
        self.rawMatcher = AddedTokenMatcher(added.filter { !$0.normalized }.map { ($0.content, $0) })
        // `tokenizers` matches normalised added tokens by their normalised content.
        self.normalizedMatcher = AddedTokenMatcher(added.filter(\.normalized).map {
            (String(decoding: Self.normalize(Array($0.content.utf8)[...], normalizer), as: UTF8.self), $0)
        })
        self.decodeTable = TokenBytesTable(tokenBytes: idToToken.map { $0.map { decoder.bytes(of: $0, first: false) } })
        self.firstTokenTable = decoder.metaspaceFirst
            ? TokenBytesTable(tokenBytes: idToToken.map { $0.map { decoder.bytes(of: $0, first: true) } })
            : nil
        self.leadingSpacesToStrip = decoder.strip

        self.bosTokenID = try v.specialID(named: bosToken, field: "bos_token",
                                            defaults: ["<s>", "<bos>", "<|begin_of_text|>"])
        self.eosTokenID = try v.specialID(named: eosToken, field: "eos_token",
                                            defaults: ["</s>", "<eos>", "<|end_of_text|>"])
    }

    /// Checks that `tokenizerJSON` would load. Performs the full load and discards it.
    public static func validate(tokenizerJSON: [UInt8]) throws(TokenizerError) {
        _ = try MetaspaceBPETokenizer(tokenizerJSON: tokenizerJSON)
    }

    /// `<0xXX>`: the byte-fallback token of `b`, two upper-case hex digits.
    static func byteToken(_ b: UInt8) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        return String(decoding: Array("<0x".utf8) + [hex[Int(b >> 4)], hex[Int(b & 15)], UInt8(ascii: ">")], as: UTF8.self)
    }

    /// The byte of a `<0xXX>` token (either hex case, as `tokenizers`' `ByteFallback` decoder).
    static func fallbackByte(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
              u[5] == UInt8(ascii: ">") else { return nil }
        func digit(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        guard let hi = digit(u[3]), let lo = digit(u[4]) else { return nil }
        return hi << 4 | lo
    }

    // MARK: - Pipeline pieces

    /// The components of a `Sequence` (`key`: its children), or the component alone.
    private static func flatten(_ component: ComponentJSON?) -> [ComponentJSON] {
        guard let component else { return [] }
        if component.type == "Sequence" { return (component.children ?? []).flatMap { flatten($0) } }
        return [component]
    }

    /// The `Replace` pattern as a literal string; regex patterns are refused.
    private static func literal(_ part: ComponentJSON, field: String) throws(TokenizerError) -> (pattern: String, content: String) {
        guard let pattern = part.pattern?["String"] else {
            let found = part.pattern?.keys.sorted().joined(separator: ",") ?? "null"
            throw .unsupported(field: field + ".pattern", found: found, supported: ["String"])
        }
        guard let content = part.content else { throw .badJSON(field: field + ".content", reason: "missing") }
        return (pattern, content)
    }

    static func normalizerSteps(_ normalizer: ComponentJSON?) throws(TokenizerError) -> [NormalizerStep] {
        var steps: [NormalizerStep] = []
        for part in flatten(normalizer) {
            switch part.type {
            case "Prepend":
                guard let prepend = part.prepend else { throw .badJSON(field: "normalizer.prepend", reason: "missing") }
                steps.append(.prepend(Array(prepend.utf8)))
            case "Replace":
                let (pattern, content) = try literal(part, field: "normalizer")
                steps.append(.replace(pattern: Array(pattern.utf8), with: Array(content.utf8)))
            case "NFC":
                steps.append(.nfc)
            default:
                throw .unsupported(field: "normalizer.type", found: part.type, supported: ["null", "Prepend", "Replace", "NFC", "Sequence"])
            }
        }
        return steps
    }

    static func metaspaceOptions(_ pre: ComponentJSON?) throws(TokenizerError) -> MetaspaceOptions? {
        let parts = flatten(pre)
        guard let part = parts.first else { return nil }
        guard parts.count == 1, part.type == "Metaspace" else {
            throw .unsupported(field: "pre_tokenizer.type", found: parts.map(\.type).joined(separator: "+"), supported: ["null", "Metaspace"])
        }
        let replacement = part.replacement ?? "\u{2581}"
        guard replacement.unicodeScalars.count == 1 else {
            throw .malformed(field: "pre_tokenizer.replacement", reason: "'\(replacement)' is not one character")
        }
        let prepend: MetaspaceOptions.Prepend
        switch part.prependScheme {
        case "always": prepend = .always
        case "first": prepend = .first
        case "never": prepend = .never
        case nil: prepend = part.addPrefixSpace == false ? .never : .always  // files before prepend_scheme
        case let other?:
            throw .unsupported(field: "pre_tokenizer.prepend_scheme", found: other, supported: ["always", "first", "never"])
        }
        return MetaspaceOptions(replacement: Array(replacement.utf8), prepend: prepend, split: part.split ?? true)
    }

    /// The decoder chain reduced to what Rill applies: per-token text rewrites, byte fallback,
    /// the first-token rule of `Metaspace`, and `Strip` of the fused text.
    struct DecoderChain {
        /// Per-token rewrites in order: `Replace` (pattern → content) or `Metaspace` (symbol).
        enum Step { case replace(String, String), metaspace(String, dropOnFirst: Bool) }
        var steps: [Step] = []
        var byteFallback = false
        var metaspaceFirst = false
        var strip = 0

        init(_ decoder: ComponentJSON?) throws(TokenizerError) {
            var fused = false
            for part in MetaspaceBPETokenizer.flatten(decoder) {
                guard !fused || part.type == "Strip" else {
                    throw .unsupported(field: "decoder.type", found: part.type + " after Fuse", supported: ["Strip"])
                }
                switch part.type {
                case "Replace":
                    let (pattern, content) = try MetaspaceBPETokenizer.literal(part, field: "decoder")
                    steps.append(.replace(pattern, content))
                case "ByteFallback":
                    byteFallback = true
                case "Fuse":
                    fused = true
                case "Metaspace":
                    // `tokenizers` removes every symbol of the first token unless prepend_scheme is never.
                    let drop = (part.prependScheme ?? (part.addPrefixSpace == false ? "never" : "always")) != "never"
                    steps.append(.metaspace(part.replacement ?? "\u{2581}", dropOnFirst: drop))
                    metaspaceFirst = metaspaceFirst || drop
                case "Strip":
                    guard fused, (part.content ?? " ") == " ", (part.stop ?? 0) == 0 else {
                        throw .unsupported(field: "decoder.Strip", found: "content '\(part.content ?? "")' start \(part.start ?? 0) stop \(part.stop ?? 0)",
                                           supported: ["Strip(' ', n, 0) after Fuse"])
                    }
                    strip += max(0, min(part.start ?? 0, 1 << 20))
                default:
                    throw .unsupported(field: "decoder.type", found: part.type,
                                       supported: ["Replace", "ByteFallback", "Fuse", "Strip", "Metaspace", "Sequence"])
                }
            }
        }

        /// The bytes of one token's text, as the first token of a text or not.
        func bytes(of token: String, first: Bool) -> [UInt8] {
            var text = token
            for step in steps {
                switch step {
                case let .replace(pattern, content):
                    text = String(decoding: MetaspaceBPETokenizer.replacing(Array(text.utf8), Array(pattern.utf8), Array(content.utf8)), as: UTF8.self)
                case let .metaspace(symbol, dropOnFirst):
                    let with = first && dropOnFirst ? [] : [UInt8(ascii: " ")]
                    text = String(decoding: MetaspaceBPETokenizer.replacing(Array(text.utf8), Array(symbol.utf8), with), as: UTF8.self)
                }
            }
            if byteFallback, let b = MetaspaceBPETokenizer.fallbackByte(text) { return [b] }
            return Array(text.utf8)
        }
    }
}
