/// A `tokenizer.json` BPE model's vocabulary and added tokens, checked and indexed by id: the
/// first thing both BPE loaders (byte-level and Metaspace) build.
///
/// Checks: every id in range and used once, every token listed once, and the ids nearly
/// dense — tables are indexed by id, so a few far-out ids would allocate for all the ids below
/// them; real vocabularies are dense, so holes are allowed up to as many ids again as are
/// assigned.
struct IndexedVocabulary {
    /// `model.vocab`: token → id.
    let vocab: [String: Int32]
    /// Every id's token text (added tokens' content over the vocabulary's); nil for a hole.
    let idToToken: [String?]
    /// Whether each id is a special added token.
    let special: [Bool]
    let added: [AddedToken]
    /// Added token content → id.
    let addedTokenIDs: [String: Int32]

    var vocabSize: Int { idToToken.count }

    typealias Bounds = ByteLevelBPETokenizer

    init(vocab entries: [(String, Int)], addedTokens: [AddedTokenJSON]) throws(TokenizerError) {
        guard entries.count <= Bounds.maxVocabEntries else {
            throw .tooLarge(field: "model.vocab", count: entries.count, limit: Bounds.maxVocabEntries)
        }
        let added = try Bounds.addedTokens(addedTokens)
        var maxID = added.map { Int($0.id) }.max() ?? -1
        for (token, id) in entries {
            try Bounds.checkToken(token, id: id, field: "model.vocab[\"\(token.prefix(64))\"]")
            maxID = max(maxID, id)
        }
        let vocabSize = maxID + 1
        let denseLimit = 2 * (entries.count + added.count) + 1024
        guard vocabSize <= denseLimit else {
            throw .idOutOfRange(field: "model.vocab / added_tokens (ids must be nearly dense)", id: maxID, limit: denseLimit)
        }
        var idToToken = [String?](repeating: nil, count: vocabSize)
        var vocab: [String: Int32] = [:]
        vocab.reserveCapacity(entries.count)
        for (token, id) in entries {
            if let other = idToToken[id] {
                throw .duplicateID(field: "model.vocab", id: id, first: min(other, token), second: max(other, token))
            }
            guard vocab.updateValue(Int32(id), forKey: token) == nil else {
                throw .malformed(field: "model.vocab", reason: "token '\(token)' is listed twice")
            }
            idToToken[id] = token
        }
        var special = [Bool](repeating: false, count: vocabSize)
        var addedTokenIDs: [String: Int32] = [:]
        for token in added {
            idToToken[Int(token.id)] = token.content
            special[Int(token.id)] = token.isSpecial
            addedTokenIDs[token.content] = token.id
        }
        self.vocab = vocab
        self.idToToken = idToToken
        self.special = special
        self.added = added
        self.addedTokenIDs = addedTokenIDs
    }

    /// The token text of `id` (added tokens' content over the vocabulary's); nil if unassigned
    /// or out of range.
    func token(forID id: Int32) -> String? {
        id >= 0 && Int(id) < vocabSize ? idToToken[Int(id)] : nil
    }

    /// The id of an added token's content, else of a vocabulary spelling.
    func id(forToken token: String) -> Int32? { addedTokenIDs[token] ?? vocab[token] }

    /// Whether `id` is a special added token; `false` out of range.
    func isSpecial(_ id: Int32) -> Bool { id >= 0 && Int(id) < vocabSize && special[Int(id)] }

    /// A BOS/EOS id: `name` (from `tokenizer_config.json`) when given, an error if it is neither
    /// an added token nor in the vocabulary; else the first special added token among
    /// `defaults`, else nil.
    func specialID(named name: String?, field: String, defaults: [String]) throws(TokenizerError) -> Int32? {
        if let name {
            guard let id = id(forToken: name) else { throw .unknownToken(field: field, token: name) }
            return id
        }
        for spelling in defaults {
            if let token = added.first(where: { $0.isSpecial && $0.content == spelling }) { return token.id }
        }
        return nil
    }

    /// The id of `model.unk_token`, which must be in the vocabulary; nil when there is none.
    func unknownID(_ unk: String?) throws(TokenizerError) -> Int32? {
        guard let unk else { return nil }
        guard let id = vocab[unk] else { throw .unknownToken(field: "model.unk_token", token: unk) }
        return id
    }
}
