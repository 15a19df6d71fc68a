/// A GPT-2 / GPT-NeoX byte-level BPE tokenizer loaded from a Hugging Face `tokenizer.json`.
///
/// Encoding follows `tokenizers` step by step:
/// 1. added tokens are split out of the raw text (`normalized: false` ones), the rest is
///    normalised (nothing, or NFC) and split on the `normalized: true` added tokens;
/// 2. each remaining piece gets a leading space if `add_prefix_space` and it has none, and is
///    cut by the GPT-2 regex (`GPT2PreTokenizer`) when `use_regex`;
/// 3. each pre-token's UTF-8 bytes become one symbol per byte (`ByteUnicodeMap`), and merges
///    apply by rank (`BPEMerges`).
///
/// Decoding maps ids to token bytes (`ByteUnicodeMap` inverse; an added token whose content
/// uses characters outside the map contributes its own UTF-8) and reads them as UTF-8.
/// `encode` never adds BOS/EOS; the post-processor is ignored.
public struct ByteLevelBPETokenizer: Tokenizer {
    // MARK: - Bounds, checked before anything is allocated from a count in the file

    /// Largest `tokenizer.json` accepted (1 GiB; the largest public ones are ~35 MB).
    public static let maxJSONBytes = 1 << 30
    /// Largest vocabulary, and bound on every id (10M; the largest public vocabularies are ~256k).
    public static let maxVocabEntries = 10_000_000
    /// Most merges accepted.
    public static let maxMerges = 10_000_000
    /// Most added tokens accepted.
    public static let maxAddedTokens = 1_000_000
    /// Longest token or added-token content, in UTF-8 bytes.
    public static let maxTokenBytes = 1 << 16

    // MARK: - Public facts

    /// One more than the largest id of the vocabulary or the added tokens.
    public var vocabSize: Int { vocabulary.vocabSize }
    /// The file's `added_tokens`, in file order.
    public var addedTokens: [AddedToken] { vocabulary.added }
    /// BOS: named at load, or guessed from the special tokens (see `init`).
    public let bosTokenID: Int32?
    /// EOS: named at load, or guessed from the special tokens (see `init`).
    public let eosTokenID: Int32?

    // MARK: - Model

    /// The vocabulary and added tokens, indexed by id.
    let vocabulary: IndexedVocabulary
    let merges: BPEMerges
    /// `byteSymbol[b]`: id of the one-character token spelling byte `b`, or -1.
    let byteSymbol: [Int32]
    let unknownID: Int32?
    let fuseUnknown: Bool
    /// Llama-3 style: a pre-token that is itself in the vocabulary skips the merges.
    let ignoreMerges: Bool

    // MARK: - Pipeline

    let normalizesNFC: Bool
    let addPrefixSpace: Bool
    let useRegex: Bool
    /// Added tokens matched in the raw text / in the normalised text.
    let rawMatcher: AddedTokenMatcher
    let normalizedMatcher: AddedTokenMatcher

    // MARK: - Decoding

    let decodeTable: TokenBytesTable

    // MARK: - Encoding

    /// The ids of `text`, as `tokenizers` gives them without post-processing (no BOS/EOS).
    public func encode(_ text: String) -> [Int32] {
        let bytes = Array(text.utf8)
        var ids: [Int32] = []
        ids.reserveCapacity(bytes.count / 3 + 4)
        var scratch = BPEScratch()
        for piece in rawMatcher.split(bytes, 0..<bytes.count) {
            switch piece {
            case let .token(id):
                ids.append(id)
            case let .text(range):
                if normalizesNFC, let normalized = NFC.normalize(bytes[range]) {
                    encodeNormalized(normalized, 0..<normalized.count, into: &ids, scratch: &scratch)
                } else {
                    encodeNormalized(bytes, range, into: &ids, scratch: &scratch)
                }
            }
        }
        return ids
    }

    /// Splits on the `normalized: true` added tokens, then pre-tokenises and merges the rest.
    private func encodeNormalized(_ bytes: [UInt8], _ range: Range<Int>, into ids: inout [Int32], scratch: inout BPEScratch) {
        for piece in normalizedMatcher.split(bytes, range) {
            switch piece {
            case let .token(id):
                ids.append(id)
            case let .text(range):
                if addPrefixSpace && bytes[range.lowerBound] != UInt8(ascii: " ") {
                    let spaced = [UInt8(ascii: " ")] + bytes[range]
                    encodeWords(spaced, 0..<spaced.count, into: &ids, scratch: &scratch)
                } else {
                    encodeWords(bytes, range, into: &ids, scratch: &scratch)
                }
            }
        }
    }

    private func encodeWords(_ bytes: [UInt8], _ range: Range<Int>, into ids: inout [Int32], scratch: inout BPEScratch) {
        if useRegex {
            for word in GPT2PreTokenizer.split(bytes, range) { encodeWord(bytes, word, into: &ids, scratch: &scratch) }
        } else {
            encodeWord(bytes, range, into: &ids, scratch: &scratch)
        }
    }

    /// One pre-token: one symbol per byte, then the merges.
    private func encodeWord(_ bytes: [UInt8], _ word: Range<Int>, into ids: inout [Int32], scratch: inout BPEScratch) {
        if ignoreMerges, let id = vocabulary.vocab[ByteUnicodeMap.token(ofBytes: bytes[word])] {
            ids.append(id)
            return
        }
        scratch.symbols.removeAll(keepingCapacity: true)
        var previousWasUnknown = false
        for b in bytes[word] {
            let id = byteSymbol[Int(b)]
            if id >= 0 {
                scratch.symbols.append(id)
                previousWasUnknown = false
            } else if let unknownID {
                // Bytes missing from the vocabulary become `unk_token` (runs fused if `fuse_unk`),
                // or vanish when there is none, as in `tokenizers`.
                if !(fuseUnknown && previousWasUnknown) { scratch.symbols.append(unknownID) }
                previousWasUnknown = true
            }
        }
        merges.apply(&scratch, appendingTo: &ids)
    }

    // MARK: - Lookup and decoding

    /// The added-token content or vocabulary spelling of `id`; `nil` if unassigned or out of range.
    public func token(forID id: Int32) -> String? {
        vocabulary.token(forID: id)
    }

    /// The id of an added token's content, else of a vocabulary spelling (`Ġthe`).
    public func id(forToken token: String) -> Int32? {
        vocabulary.id(forToken: token)
    }

    /// Whether `id` is a special added token; `false` out of range.
    public func isSpecialToken(_ id: Int32) -> Bool {
        vocabulary.isSpecial(id)
    }

    /// Appends the bytes of `id` from the table built at load (nothing for unknown ids).
    public func appendDecodedBytes(of id: Int32, to bytes: inout [UInt8]) {
        decodeTable.append(id, to: &bytes)
    }
}
