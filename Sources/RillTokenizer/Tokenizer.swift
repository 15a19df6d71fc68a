/// A text ↔ token-id codec loaded from a model's tokenizer files.
///
/// Implemented by `ByteLevelBPETokenizer` (GPT-2 / GPT-NeoX), `MetaspaceBPETokenizer`
/// (LLaMA / Mistral `tokenizer.json`) and `SentencePieceTokenizer` (`tokenizer.model`); load any
/// of them with `loadTokenizer(format:bytes:)`. Conformers are immutable values, safe to share
/// across threads.
public protocol Tokenizer: Sendable {
    /// One more than the largest id of the vocabulary or the added tokens. Ids below it may be
    /// unassigned (`token(forID:)` is `nil`); a model's embedding table may have more rows.
    var vocabSize: Int { get }
    /// Added tokens (special or not), in file order.
    var addedTokens: [AddedToken] { get }
    /// The beginning-of-sequence id, if known. `encode` never inserts it.
    var bosTokenID: Int32? { get }
    /// The end-of-sequence id, if known.
    var eosTokenID: Int32? { get }

    /// The ids of `text`, exactly as Hugging Face `tokenizers` gives them with
    /// `add_special_tokens=False`. Added tokens in the text map to their ids. Empty text gives `[]`.
    func encode(_ text: String) -> [Int32]
    /// The vocabulary spelling of `id` (e.g. `Ġthe`), or `nil` for an unassigned id.
    func token(forID id: Int32) -> String?
    /// The id of a vocabulary spelling or added-token content, or `nil`.
    func id(forToken token: String) -> Int32?
    /// Whether `id` is a special added token. `false` for ids out of range.
    func isSpecialToken(_ id: Int32) -> Bool
    /// Appends the bytes `id` contributes to decoded text (possibly part of a UTF-8 character).
    /// Appends nothing for ids out of range or unassigned.
    func appendDecodedBytes(of id: Int32, to bytes: inout [UInt8])
    /// As `appendDecodedBytes(of:to:)`, for decoders whose output depends on position: the
    /// SentencePiece-style ones drop the space before the first word. `state` starts as
    /// `DecodeState()` for each text and is updated here. The default ignores position.
    func appendDecodedBytes(of id: Int32, to bytes: inout [UInt8], state: inout DecodeState)
}

/// What decoding remembers from one token to the next (see
/// `Tokenizer.appendDecodedBytes(of:to:state:)`). A fresh value means "start of text".
public struct DecodeState: Sendable, Equatable {
    /// Tokens decoded so far that have a vocabulary or added-token entry.
    public var tokens = 0
    /// Bytes appended so far.
    public var bytes = 0
    /// Leading spaces a decoder has removed so far (`Strip` after `Fuse`).
    public var strippedSpaces = 0

    /// The state at the start of a text.
    public init() {}
}

extension Tokenizer {
    /// Position-independent decoding: appends as `appendDecodedBytes(of:to:)` and counts.
    public func appendDecodedBytes(of id: Int32, to bytes: inout [UInt8], state: inout DecodeState) {
        let before = bytes.count
        appendDecodedBytes(of: id, to: &bytes)
        state.bytes += bytes.count - before
        if token(forID: id) != nil { state.tokens += 1 }
    }

    /// The special added tokens, in file order.
    public var specialTokens: [AddedToken] { addedTokens.filter(\.isSpecial) }

    /// The text of `ids`: token bytes concatenated, then read as UTF-8 with each invalid
    /// sequence replaced by U+FFFD (as Python's `bytes.decode("utf-8", "replace")`, which is
    /// what `tokenizers` does for byte-level models; for byte-fallback runs that are not UTF-8
    /// the libraries differ, see `MetaspaceBPETokenizer`). Special tokens decode to their
    /// content unless `skippingSpecialTokens`; unknown ids are skipped.
    public func decode(_ ids: [Int32], skippingSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        var state = DecodeState()
        for id in ids where !(skippingSpecialTokens && isSpecialToken(id)) {
            appendDecodedBytes(of: id, to: &bytes, state: &state)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A decoder for printing generated tokens one at a time (see `StreamingDecoder`).
    public func makeStreamingDecoder(skippingSpecialTokens: Bool = false) -> StreamingDecoder {
        StreamingDecoder(tokenizer: self, skippingSpecialTokens: skippingSpecialTokens)
    }
}
