import RillFormat
import RillKernels
import RillModels
import RillTokenizer

/// An opened model: the mapped file, its architecture's weights and, when the file carries
/// one, its tokenizer. Immutable; any number of ``Session``s may share it, in any threads.
public final class Model: @unchecked Sendable {
    public let file: RillFile
    public let network: RecurrentModel
    /// Nil when the file carries no tokenizer (run from token ids).
    public let tokenizer: (any Tokenizer)?

    /// Opens `path`: validates the header and tables, binds the tensors the architecture needs
    /// (checking names, shapes and types), parses the tokenizer. Tensor bytes are not read.
    public init(path: String) throws {
        file = try RillFile(path: path)
        switch file.metadata.config {
        case let .mamba(c): network = try MambaModel(file: file, config: c)
        case let .transnormer(c): network = try TransNormerModel(file: file, config: c)
        case let .samba(c): network = try SambaModel(file: file, config: c)
        case let .subllm(c): network = try SubllmModel(file: file, config: c)
        }
        if let bytes = try file.tokenizerBytes() {
            do {
                // Files written before tokenizer.model support record no format: tokenizer.json.
                let format = file.metadata.tokenizer?.format ?? TokenizerFormat.hfTokenizerJSON.rawValue
                tokenizer = try loadTokenizer(format: format, bytes: bytes)
            } catch {
                throw RillFileError.invalidField(path: path, field: "tokenizer", expected: "a supported tokenizer", found: "\(error)")
            }
        } else {
            tokenizer = nil
        }
    }

    public var config: ModelConfig { file.metadata.config }
    public var vocabSize: Int { network.vocabSize }

    /// Text to token ids, starting with BOS when the checkpoint adds one (`add_bos_token`)
    /// and `atStart` (pass false for text appended to a restored context); throws when the
    /// file has no tokenizer.
    public func encode(_ text: String, atStart: Bool = true) throws -> [Int32] {
        guard let tokenizer else { throw SessionError.noTokenizer(path: file.path) }
        let ids = tokenizer.encode(text)
        if atStart, file.metadata.tokenizer?.addBOS == true, let bos = file.metadata.bosTokenID {
            return [Int32(bos)] + ids
        }
        return ids
    }
}

/// Errors of running a model.
public enum SessionError: Error, CustomStringConvertible, Equatable {
    case noTokenizer(path: String)
    case tokenOutOfRange(id: Int64, vocabSize: Int)
    case emptyInput
    /// The reserved keys and values would overflow (`--ctx`).
    case contextFull(capacity: Int, position: Int, adding: Int)

    public var description: String {
        switch self {
        case let .noTokenizer(path):
            return "\(path): the file carries no tokenizer; pass token ids with --ids"
        case let .tokenOutOfRange(id, v):
            return "token id \(id) is outside the vocabulary (0…\(v - 1))"
        case .emptyInput:
            return "no input tokens"
        case let .contextFull(capacity, position, adding):
            return "the context is full: \(position) positions used of the \(capacity) reserved (--ctx \(capacity)), and \(adding) more do not fit; start with a larger --ctx"
        }
    }
}
