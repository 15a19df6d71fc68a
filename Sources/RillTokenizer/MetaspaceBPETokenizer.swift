/// A SentencePiece-style BPE tokenizer loaded from a Hugging Face `tokenizer.json`: LLaMA,
/// Mistral, and what `tokenizers` builds with a `Metaspace` pre-tokenizer. Spaces are spelled
/// `▁` (U+2581) inside tokens, and a character missing from the vocabulary becomes its UTF-8
/// bytes as `<0xXX>` tokens (`byte_fallback`).
///
/// Encoding follows `tokenizers` step by step:
/// 1. added tokens are split out of the raw text (`normalized: false` ones); each remaining
///    piece is normalised on its own (`Prepend("▁")`, `Replace(" ", "▁")`, `NFC`, in file
///    order), then split on the `normalized: true` added tokens (whose content went through the
///    same normaliser, as in `tokenizers`);
/// 2. the `Metaspace` pre-tokenizer, if any, turns `" "` into `▁`, prepends `▁` (`always`, or
///    `first`: only to the piece that starts the input) unless the piece starts with one, and
///    with `split` cuts before every `▁`;
/// 3. each word becomes one symbol per character (its vocabulary id, else its `<0xXX>` byte
///    tokens, else `unk_token`, runs fused if `fuse_unk`, in the order `tokenizers` emits them),
///    then merges apply by rank (`BPEMerges`).
///
/// Decoding: each token's text goes through the decoder chain (`Replace("▁", " ")` or
/// `Metaspace`, `ByteFallback`, `Fuse`, `Strip(" ", n, 0)`), precomputed per id at load; what
/// depends on position (the `Metaspace` decoder drops every `▁` of the first token; `Strip`
/// after `Fuse` drops up to `n` spaces at the start of the text) is applied through
/// `DecodeState`.
///
/// Not as in `tokenizers`: a run of `<0xXX>` tokens that is not valid UTF-8 (only random ids
/// give one) decodes here with one U+FFFD per maximal invalid subsequence, as Python's
/// `decode("utf-8", "replace")`; the `ByteFallback` decoder gives one U+FFFD per byte of the
/// whole run, valid bytes included. `encode` never adds BOS/EOS; the post-processor is ignored.
public struct MetaspaceBPETokenizer: Tokenizer {
    // MARK: - Public facts

    /// One more than the largest id of the vocabulary or the added tokens.
    public var vocabSize: Int { vocabulary.vocabSize }
    /// The file's `added_tokens`, in file order.
    public var addedTokens: [AddedToken] { vocabulary.added }
    /// BOS: named at load, or guessed from the special tokens (`<s>`, …).
    public let bosTokenID: Int32?
    /// EOS: named at load, or guessed from the special tokens (`</s>`, …).
    public let eosTokenID: Int32?

    // MARK: - Model

    /// Ids of the vocabulary entries that are one Unicode scalar, by scalar value.
    let scalarIDs: [UInt32: Int32]
    /// The vocabulary and added tokens, indexed by id.
    let vocabulary: IndexedVocabulary
    let merges: BPEMerges
    /// `byteIDs[b]`: id of `<0xXX>` for byte `b`, or -1; all -1 without `byte_fallback`.
    let byteIDs: [Int32]
    let unknownID: Int32?
    let fuseUnknown: Bool
    let ignoreMerges: Bool

    // MARK: - Pipeline

    /// The normalizer steps, in order.
    let normalizer: [NormalizerStep]
    /// The `Metaspace` pre-tokenizer, or nil for none (the whole piece is one word).
    let metaspace: MetaspaceOptions?
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher

    // MARK: - Decoding

    /// Bytes of each id in the middle of a text.
    let decodeTable: TokenBytesTable
    /// Bytes of each id as the first token (the `Metaspace` decoder), or nil when the same.
    let firstTokenTable: TokenBytesTable?
    /// Spaces `Strip` removes from the start of the fused text.
    let leadingSpacesToStrip: Int

    enum NormalizerStep: Sendable, Equatable {
        case prepend([UInt8])
        case replace(pattern: [UInt8], with: [UInt8])
        case nfc
    }

    struct MetaspaceOptions: Sendable, Equatable {
        enum Prepend: Sendable { case always, first, never }
        var replacement: [UInt8]
        var prepend: Prepend
        var split: Bool
    }

    // MARK: - Encoding

    /// The ids of `text`, as `tokenizers` gives them without post-processing (no BOS/EOS).
    public func encode(_ text: String) -> [Int32] {
        let bytes = Array(text.utf8)
        var ids: [Int32] = []
        ids.reserveCapacity(bytes.count / 2 + 4)
        var scratch = BPEScratch()
        for piece in rawMatcher.split(bytes, 0..<bytes.count) {
            switch piece {
            case let .token(id):
                ids.append(id)
            case let .text(range):
                let normalized = Self.normalize(bytes[range], normalizer)
                for inner in normalizedMatcher.split(normalized, 0..<normalized.count) {
                    switch inner {
                    case let .token(id):
                        ids.append(id)
                    case let .text(r):
                        let startsInput = range.lowerBound == 0 && r.lowerBound == 0
                        encodePiece(normalized[r], startsInput: startsInput, into: &ids, scratch: &scratch)
                    }
                }
            }
        }
        return ids
    }

    /// Applies the normalizer steps to `bytes` (valid UTF-8).
    static func normalize(_ bytes: ArraySlice<UInt8>, _ steps: [NormalizerStep]) -> [UInt8] {
        var out = Array(bytes)
        for step in steps {
            switch step {
            case let .prepend(prefix):
                if !out.isEmpty { out = prefix + out }
            case let .replace(pattern, with):
                out = replacing(out, pattern, with)
            case .nfc:
                if let n = NFC.normalize(out[...]) { out = n }
            }
        }
        return out
    }

    /// `bytes` with every non-overlapping occurrence of `pattern` (left to right) replaced.
    static func replacing(_ bytes: [UInt8], _ pattern: [UInt8], _ with: [UInt8]) -> [UInt8] {
        guard !pattern.isEmpty, bytes.count >= pattern.count else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 2)
        var i = 0
        while i < bytes.count {
            if bytes[i] == pattern[0], i + pattern.count <= bytes.count, bytes[i..<(i + pattern.count)].elementsEqual(pattern) {
                out += with
                i += pattern.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    /// Pre-tokenises one normalised piece and encodes its words.
    private func encodePiece(_ piece: ArraySlice<UInt8>, startsInput: Bool, into ids: inout [Int32], scratch: inout BPEScratch) {
        guard let metaspace else {
            encodeWord(Array(piece), 0..<piece.count, into: &ids, scratch: &scratch)
            return
        }
        var text = Self.replacing(Array(piece), [UInt8(ascii: " ")], metaspace.replacement)
        let prepend: Bool
        switch metaspace.prepend {
        case .always: prepend = true
        case .first: prepend = startsInput
        case .never: prepend = false
        }
        if prepend && !text.starts(with: metaspace.replacement) { text = metaspace.replacement + text }
        guard metaspace.split else {
            encodeWord(text, 0..<text.count, into: &ids, scratch: &scratch)
            return
        }
        // Cut before every replacement symbol (`MergedWithNext`), never leaving an empty word.
        let symbol = metaspace.replacement
        var start = 0
        var i = 0
        while i < text.count {
            if text[i] == symbol[0], i + symbol.count <= text.count, text[i..<(i + symbol.count)].elementsEqual(symbol) {
                if i > start { encodeWord(text, start..<i, into: &ids, scratch: &scratch) }
                start = i
                i += symbol.count
            } else {
                i += 1
            }
        }
        if start < text.count { encodeWord(text, start..<text.count, into: &ids, scratch: &scratch) }
    }

    /// One word: one symbol per character, then the merges (`tokenizers`' `BPE::merge_word`).
    private func encodeWord(_ bytes: [UInt8], _ word: Range<Int>, into ids: inout [Int32], scratch: inout BPEScratch) {
        if word.isEmpty { return }
        if ignoreMerges, let id = vocabulary.vocab[String(decoding: bytes[word], as: UTF8.self)] {
            ids.append(id)
            return
        }
        scratch.symbols.removeAll(keepingCapacity: true)
        // A pending `unk_token`: flushed before the next character found in the vocabulary, or
        // at the end; byte-fallback tokens do not flush it (as in `tokenizers`).
        var pendingUnknown = false
        var at = word.lowerBound
        while at < word.upperBound {
            let (scalar, length) = UTF8Scalar.decode(bytes, at: at)
            defer { at += length }
            if let id = scalarIDs[scalar.value] {
                if pendingUnknown, let unknownID { scratch.symbols.append(unknownID) }
                pendingUnknown = false
                scratch.symbols.append(id)
                continue
            }
            if byteIDs[Int(bytes[at])] >= 0, (at..<(at + length)).allSatisfy({ byteIDs[Int(bytes[$0])] >= 0 }) {
                for k in at..<(at + length) { scratch.symbols.append(byteIDs[Int(bytes[k])]) }
                continue
            }
            guard let unknownID else { continue }  // no unk_token: the character vanishes
            if pendingUnknown && !fuseUnknown { scratch.symbols.append(unknownID) }
            pendingUnknown = true
        }
        if pendingUnknown, let unknownID { scratch.symbols.append(unknownID) }
        merges.apply(&scratch, appendingTo: &ids)
    }

    // MARK: - Lookup and decoding

    /// The added-token content or vocabulary spelling of `id` (`▁the`, `<0x0A>`); `nil` if unassigned.
    public func token(forID id: Int32) -> String? {
        vocabulary.token(forID: id)
    }

    /// The id of an added token's content, else of a vocabulary spelling.
    public func id(forToken token: String) -> Int32? {
        vocabulary.id(forToken: token)
    }

    /// Whether `id` is a special added token; `false` out of range.
    public func isSpecialToken(_ id: Int32) -> Bool {
        vocabulary.isSpecial(id)
    }

    /// The bytes of `id` in the middle of a text (nothing for unknown ids).
    public func appendDecodedBytes(of id: Int32, to bytes: inout [UInt8]) {
        decodeTable.append(id, to: &bytes)
    }

    /// The bytes of `id` at its position: the first token's `▁` removed (`Metaspace` decoder),
    /// leading spaces of the text stripped (`Strip`).
    public func appendDecodedBytes(of id: Int32, to bytes: inout [UInt8], state: inout DecodeState) {
        guard token(forID: id) != nil else { return }
        let table = state.tokens == 0 ? firstTokenTable ?? decodeTable : decodeTable
        var piece = table[id]
        state.tokens += 1
        while state.bytes == 0 && state.strippedSpaces < leadingSpacesToStrip && piece.first == UInt8(ascii: " ") {
            piece = piece.dropFirst()
            state.strippedSpaces += 1
        }
        bytes += piece
        state.bytes += piece.count
    }
}
