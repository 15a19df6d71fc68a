import Foundation

extension ByteLevelBPETokenizer {
    /// Loads a byte-level BPE tokenizer from the bytes of a `tokenizer.json`.
    ///
    /// Accepted: `model.type` `BPE` (no dropout, no subword prefix/suffix, no byte fallback);
    /// `normalizer` null or `NFC`; `pre_tokenizer` `ByteLevel`; `decoder` `ByteLevel` (each
    /// also as a one-element `Sequence`). Merges may be `[["a","b"], …]` or `["a b", …]`.
    ///
    /// BOS/EOS: `bosToken` / `eosToken` name them (from `tokenizer_config.json`); when `nil`,
    /// the first special added token among the usual spellings is taken (`<|begin_of_text|>`,
    /// `<s>`, `<bos>`, `<|startoftext|>`, `<|endoftext|>` for BOS; `<|end_of_text|>`, `</s>`,
    /// `<eos>`, `<|endoftext|>` for EOS); GPT-2 and GPT-NeoX use `<|endoftext|>` for both.
    ///
    /// - Throws: `TokenizerError` naming the field: bad JSON, an unsupported component, a size
    ///   above the bounds (`maxVocabEntries`, …), duplicate or out-of-range ids, a merge of
    ///   unknown tokens, or a named BOS/EOS token that does not exist.
    public init(tokenizerJSON: [UInt8], bosToken: String? = nil, eosToken: String? = nil) throws(TokenizerError) {
        guard tokenizerJSON.count <= Self.maxJSONBytes else {
            throw .tooLarge(field: "(file size)", count: tokenizerJSON.count, limit: Self.maxJSONBytes)
        }
        let json = try TokenizerJSON.decode(tokenizerJSON, vocabLimit: Self.maxVocabEntries, mergesLimit: Self.maxMerges)
        try self.init(json: json, bosToken: bosToken, eosToken: eosToken)
    }

    /// Loads from a decoded `tokenizer.json` (see `init(tokenizerJSON:bosToken:eosToken:)`).
    init(json: TokenizerJSON, bosToken: String?, eosToken: String?) throws(TokenizerError) {
        let pipeline = try Pipeline(json)
        let model = json.model

        let v = try IndexedVocabulary(vocab: model.vocab, addedTokens: json.addedTokens ?? [])
        let vocab = v.vocab, added = v.added
        self.vocabulary = v
        self.merges = try Self.merges(model.merges, vocab: vocab)
        self.byteSymbol = (0..<256).map { vocab[String(ByteUnicodeMap.scalar[$0])] ?? -1 }
        self.unknownID = try v.unknownID(model.unkToken)
        self.fuseUnknown = model.fuseUnk ?? false
        self.ignoreMerges = model.ignoreMerges ?? false

        self.normalizesNFC = pipeline.nfc
        self.addPrefixSpace = pipeline.addPrefixSpace
        self.useRegex = pipeline.useRegex
        let nfc = pipeline.nfc
        self.rawMatcher = AddedTokenMatcher(added.filter { !$0.normalized }.map { ($0.content, $0) })
        self.normalizedMatcher = AddedTokenMatcher(added.filter(\.normalized).map {
            (nfc ? NFC.normalize($0.content) : $0.content, $0)
        })
        self.decodeTable = TokenBytesTable(byteLevelTokens: v.idToToken)

        self.bosTokenID = try v.specialID(named: bosToken, field: "bos_token",
                                            defaults: ["<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>", "<|endoftext|>"])
        self.eosTokenID = try v.specialID(named: eosToken, field: "eos_token",
                                            defaults: ["<|end_of_text|>", "</s>", "<eos>", "<|endoftext|>"])
    }

    /// Loads from `Data`; see `init(tokenizerJSON: [UInt8], bosToken:eosToken:)`.
    public init(tokenizerJSON: Data, bosToken: String? = nil, eosToken: String? = nil) throws(TokenizerError) {
        try self.init(tokenizerJSON: [UInt8](tokenizerJSON), bosToken: bosToken, eosToken: eosToken)
    }

    /// Checks that `tokenizerJSON` would load, so that a converter can refuse a model at convert
    /// time rather than at run time. Performs the full load and discards it.
    public static func validate(tokenizerJSON: [UInt8]) throws(TokenizerError) {
        _ = try ByteLevelBPETokenizer(tokenizerJSON: tokenizerJSON)
    }

    // MARK: - Pieces of the load

    /// The normalizer / pre-tokenizer / decoder settings, refusing anything unsupported.
    struct Pipeline {
        var nfc = false
        var addPrefixSpace = false
        var useRegex = true

        init(_ json: TokenizerJSON) throws(TokenizerError) {
            let model = json.model
            try model.checkPlainBPE()
            if model.byteFallback == true {
                throw .unsupported(field: "model.byte_fallback", found: "true", supported: ["false"])
            }

            if let normalizer = json.normalizer {
                let parts = normalizer.type == "Sequence" ? normalizer.children ?? [] : [normalizer]
                for part in parts {
                    guard part.type == "NFC" else {
                        throw .unsupported(field: "normalizer.type", found: part.type, supported: ["null", "NFC"])
                    }
                    nfc = true
                }
            }
            guard let pre = try Self.byteLevel(json.preTokenizer, field: "pre_tokenizer", children: "pretokenizers") else {
                throw .unsupported(field: "pre_tokenizer", found: "null", supported: ["ByteLevel"])
            }
            // `tokenizers`' ByteLevel defaults: add_prefix_space true, use_regex true.
            addPrefixSpace = pre.addPrefixSpace ?? true
            useRegex = pre.useRegex ?? true
            guard try Self.byteLevel(json.decoder, field: "decoder", children: "decoders") != nil else {
                throw .unsupported(field: "decoder", found: "null", supported: ["ByteLevel"])
            }
        }

        /// `component` if it is `ByteLevel` or a `Sequence` of exactly one `ByteLevel`.
        private static func byteLevel(_ component: ComponentJSON?, field: String, children key: String) throws(TokenizerError) -> ComponentJSON? {
            guard let component else { return nil }
            if component.type == "Sequence", let children = component.children, children.count == 1 {
                return try byteLevel(children[0], field: field + ".\(key)[0]", children: key)
            }
            guard component.type == "ByteLevel" else {
                throw .unsupported(field: field + ".type", found: component.type, supported: ["ByteLevel"])
            }
            return component
        }
    }

    /// Checks an id's range and a token's length; `field` is built only for the error.
    static func checkToken(_ token: String, id: Int, field: @autoclosure () -> String) throws(TokenizerError) {
        guard id >= 0 && id < maxVocabEntries else {
            throw .idOutOfRange(field: field(), id: id, limit: maxVocabEntries)
        }
        guard token.utf8.count <= maxTokenBytes else {
            throw .tooLarge(field: field() + " (UTF-8 bytes)", count: token.utf8.count, limit: maxTokenBytes)
        }
    }

    static func addedTokens(_ entries: [AddedTokenJSON]) throws(TokenizerError) -> [AddedToken] {
        guard entries.count <= maxAddedTokens else {
            throw .tooLarge(field: "added_tokens", count: entries.count, limit: maxAddedTokens)
        }
        var byID: [Int: String] = [:]
        var byContent: Set<String> = []
        var tokens: [AddedToken] = []
        tokens.reserveCapacity(entries.count)
        for (i, e) in entries.enumerated() {
            try checkToken(e.content, id: e.id, field: "added_tokens[\(i)]")
            if let other = byID[e.id] {
                throw .duplicateID(field: "added_tokens[\(i)].id", id: e.id, first: other, second: e.content)
            }
            guard byContent.insert(e.content).inserted else {
                throw .malformed(field: "added_tokens[\(i)].content", reason: "'\(e.content)' is listed twice")
            }
            byID[e.id] = e.content
            let isSpecial = e.special ?? false
            tokens.append(AddedToken(
                id: Int32(e.id), content: e.content, isSpecial: isSpecial,
                singleWord: e.singleWord ?? false, lstrip: e.lstrip ?? false, rstrip: e.rstrip ?? false,
                normalized: e.normalized ?? !isSpecial))
        }
        return tokens
    }

    static func merges(_ entries: [[String]], vocab: [String: Int32]) throws(TokenizerError) -> BPEMerges {
        guard entries.count <= maxMerges else {
            throw .tooLarge(field: "model.merges", count: entries.count, limit: maxMerges)
        }
        var merges = BPEMerges(capacity: entries.count)
        for (rank, entry) in entries.enumerated() {
            func field() -> String { "model.merges[\(rank)]" }
            guard entry.count == 2 else {
                throw .malformed(field: field(), reason: "expected two tokens, found \(entry.count)")
            }
            let (a, b) = (entry[0], entry[1])
            guard let left = vocab[a] else { throw .unknownToken(field: field(), token: a) }
            guard let right = vocab[b] else { throw .unknownToken(field: field(), token: b) }
            guard let result = vocab[a + b] else { throw .unknownToken(field: field(), token: a + b) }
            merges.add(left, right, rank: Int32(rank), result: result)
        }
        return merges
    }
}

extension ModelJSON {
    /// What both `tokenizer.json` BPE loaders refuse: another model type, dropout, a
    /// continuing-subword prefix or an end-of-word suffix.
    func checkPlainBPE() throws(TokenizerError) {
        guard type == "BPE" else {
            throw .unsupported(field: "model.type", found: type, supported: ["BPE"])
        }
        if let dropout, dropout != 0 {
            throw .unsupported(field: "model.dropout", found: "\(dropout)", supported: ["null", "0"])
        }
        if let prefix = continuingSubwordPrefix, !prefix.isEmpty {
            throw .unsupported(field: "model.continuing_subword_prefix", found: prefix, supported: ["null"])
        }
        if let suffix = endOfWordSuffix, !suffix.isEmpty {
            throw .unsupported(field: "model.end_of_word_suffix", found: suffix, supported: ["null"])
        }
    }
}
