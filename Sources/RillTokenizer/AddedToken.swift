/// A token from `tokenizer.json`'s `added_tokens`, matched in the text before pre-tokenisation.
///
/// Special tokens (`<|endoftext|>`) are added tokens with `isSpecial`; decoding can skip them.
public struct AddedToken: Sendable, Equatable {
    /// The token id.
    public let id: Int32
    /// The literal text that stands for this token.
    public let content: String
    /// Whether the token is special (control tokens such as BOS/EOS).
    public let isSpecial: Bool
    /// Matches only when not preceded or followed by a word character (`\w`).
    public let singleWord: Bool
    /// A match also swallows the whitespace just before it.
    public let lstrip: Bool
    /// A match also swallows the whitespace just after it.
    public let rstrip: Bool
    /// Matched against the normalised text (`true`) or the raw text (`false`).
    public let normalized: Bool

    /// A token with the defaults of `tokenizers` for the flags not given.
    public init(id: Int32, content: String, isSpecial: Bool, singleWord: Bool = false,
                lstrip: Bool = false, rstrip: Bool = false, normalized: Bool = false) {
        self.id = id
        self.content = content
        self.isSpecial = isSpecial
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
    }
}
