import Foundation

/// The tokenizer file formats Rill reads, by the name recorded in `TokenizerInfo.format`.
public enum TokenizerFormat: String, CaseIterable, Sendable {
    /// A Hugging Face `tokenizer.json` with a BPE model: byte-level (GPT-2 / GPT-NeoX /
    /// Llama-3) or Metaspace / byte-fallback (LLaMA-2 / Mistral).
    case hfTokenizerJSON = "hf-tokenizer-json"
    /// A SentencePiece `tokenizer.model` (protobuf ModelProto), unigram or BPE.
    case sentencePieceModel = "sentencepiece-model"

    /// The format of a file by its name: `tokenizer.json` or `*.json` → `hfTokenizerJSON`,
    /// `tokenizer.model` or `*.model` → `sentencePieceModel`, else nil. When a checkpoint has
    /// both, prefer `tokenizer.json` (what `transformers` loads by default).
    public init?(fileName: String) {
        let name = fileName.split(separator: "/").last.map(String.init) ?? fileName
        if name.hasSuffix(".json") {
            self = .hfTokenizerJSON
        } else if name.hasSuffix(".model") {
            self = .sentencePieceModel
        } else {
            return nil
        }
    }

    /// The file names a converter looks for, in order of preference.
    public static let fileNames = ["tokenizer.json", "tokenizer.model"]
}

/// Loads a tokenizer of any supported kind from a file's bytes.
///
/// - `"hf-tokenizer-json"`: `ByteLevelBPETokenizer` when the pre-tokenizer or decoder is
///   `ByteLevel`, else `MetaspaceBPETokenizer`;
/// - `"sentencepiece-model"`: `SentencePieceTokenizer`.
///
/// `bosToken` / `eosToken` name BOS/EOS for `tokenizer.json` (from `tokenizer_config.json`);
/// a SentencePiece model records its own ids and ignores them.
///
/// - Throws: `TokenizerError.unknownFormat` for another format string, else what the loader
///   of that kind throws. Never traps on bad bytes.
public func loadTokenizer(format: String, bytes: [UInt8], bosToken: String? = nil, eosToken: String? = nil) throws(TokenizerError) -> any Tokenizer {
    guard let kind = TokenizerFormat(rawValue: format) else { throw .unknownFormat(format) }
    switch kind {
    case .sentencePieceModel:
        return try SentencePieceTokenizer(modelProto: bytes)
    case .hfTokenizerJSON:
        guard bytes.count <= ByteLevelBPETokenizer.maxJSONBytes else {
            throw .tooLarge(field: "(file size)", count: bytes.count, limit: ByteLevelBPETokenizer.maxJSONBytes)
        }
        let json = try TokenizerJSON.decode(bytes, vocabLimit: ByteLevelBPETokenizer.maxVocabEntries,
                                            mergesLimit: ByteLevelBPETokenizer.maxMerges)
        if json.isByteLevel {
            return try ByteLevelBPETokenizer(json: json, bosToken: bosToken, eosToken: eosToken)
        }
        return try MetaspaceBPETokenizer(json: json, bosToken: bosToken, eosToken: eosToken)
    }
}

/// A one-line name of the tokenizer's kind, for `TokenizerInfo.model`: `"BPE (byte-level)"`,
/// `"BPE (metaspace, byte fallback)"`, `"SentencePiece unigram"`, `"SentencePiece BPE"`.
public func tokenizerModelName(_ tokenizer: any Tokenizer) -> String {
    switch tokenizer {
    case is ByteLevelBPETokenizer:
        return "BPE (byte-level)"
    case let t as MetaspaceBPETokenizer:
        return t.byteIDs.contains(where: { $0 >= 0 }) ? "BPE (metaspace, byte fallback)" : "BPE (metaspace)"
    case let t as SentencePieceTokenizer:
        return t.algorithm == .bpe ? "SentencePiece BPE" : "SentencePiece unigram"
    default:
        return String(describing: type(of: tokenizer))
    }
}

extension TokenizerJSON {
    /// Whether the pre-tokenizer or the decoder is `ByteLevel` (alone or inside a `Sequence`).
    var isByteLevel: Bool {
        func has(_ c: ComponentJSON?) -> Bool {
            guard let c else { return false }
            return c.type == "ByteLevel" || (c.children ?? []).contains { has($0) }
        }
        return has(preTokenizer) || has(decoder)
    }
}
