import Foundation
import RillTokenizer
import RillFormat

/// Options of one conversion.
public struct ConvertOptions: Sendable {
    public var quant: QuantType
    /// `PATTERN=TYPE` overrides, applied after the default policy.
    public var overrides: [(pattern: String, type: QuantType)]
    /// Per tensor name, each column's mean square input measured on calibration text
    /// (`RillRuntime.Calibration`): the int4k search weighs its errors by it. Tensors of other
    /// types, and tensors it does not name, are encoded as without it.
    public var importance: [String: [Float]]
    /// Recorded in the metadata with the importance (`quantization.calibration`).
    public var calibration: CalibrationInfo?

    public init(
        quant: QuantType, overrides: [(pattern: String, type: QuantType)] = [],
        importance: [String: [Float]] = [:], calibration: CalibrationInfo? = nil
    ) {
        self.quant = quant
        self.overrides = overrides
        self.importance = importance
        self.calibration = calibration
    }
}

/// What a conversion wrote.
public struct ConvertSummary: Sendable {
    public struct TensorReport: Sendable {
        public var name: String
        public var type: QuantType
        public var shape: [Int]
        public var bytes: Int
        /// ‖x − dequant(q(x))‖ / ‖x‖ (0 for f32). Unweighted, also for a calibrated tensor,
        /// whose search minimised the importance-weighted error instead.
        public var relativeRMSE: Double
        /// Encoded with calibration statistics.
        public var calibrated: Bool
    }
    public var architecture: String
    public var tensors: [TensorReport]
    public var fileBytes: Int
    public var sourceBytes: Int
    public var hasTokenizer: Bool
    public var warnings: [String]

    public var countsByType: [QuantType: Int] {
        tensors.reduce(into: [:]) { $0[$1.type, default: 0] += 1 }
    }
    public var worst: TensorReport? { tensors.max { $0.relativeRMSE < $1.relativeRMSE } }
}

/// Events a caller may show while converting.
public enum ConvertEvent {
    case warning(String)
    case tensorWritten(done: Int, total: Int, name: String)
    /// `config.json` keys that neither the reference nor Rill reads (shown by `--verbose`).
    case ignoredConfigKeys([String])
}

/// Converts a Hugging Face checkpoint folder into a `.rill` file.
public enum Converter {
    public static let version = "rill 0.1.0"

    /// Converts `directory` into `output`. Nothing is left at `output` (or beside it) when this
    /// throws.
    public static func convert(
        directory: String, output: String, options: ConvertOptions,
        tokenizerCheck: ([UInt8], String) throws -> TokenizerInfo,
        events: (ConvertEvent) -> Void = { _ in }
    ) throws -> ConvertSummary {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw RillFileError.io(path: directory, operation: "open the checkpoint folder", errno: ENOENT)
        }
        let configPath = directory + "/config.json"
        var cc = try HFConfigDecoder.decode(path: configPath)
        let checkpoint = try SafetensorsCheckpoint(directory: directory)
        let src = SourceReader(checkpoint: checkpoint)
        var warnings: [String] = []
        func warn(_ s: String) {
            warnings.append(s)
            events(.warning(s))
        }
        if !cc.unknownKeys.isEmpty {
            events(.ignoredConfigKeys(cc.unknownKeys))
        }
        let subllmNames = cc.layout == .subllm || cc.layout == .llama ? try SubllmSourceNames(layout: cc.layout, src) : nil
        let headNames: (embedding: String, head: String)
        switch cc.layout {
        case .mamba, .samba: headNames = ("backbone.embeddings.weight", "lm_head.weight")
        case .transnormer: headNames = ("model.embed_tokens.weight", "lm_head.weight")
        case .subllm, .llama: headNames = (subllmNames!.embedding, subllmNames!.head)
        }
        try resolveTiedHead(&cc, src, names: headNames, configPath: configPath, warn: warn)
        let plan: [PlannedTensor]
        switch cc.config {
        case let .mamba(c): plan = try mambaPlan(c, src)
        case let .transnormer(c): plan = try transNormerPlan(c, src)
        case let .samba(c): plan = try sambaPlan(c, src)
        case let .subllm(c): plan = try subllmPlan(c, rope: cc.rope ?? LlamaRoPE(theta: 10000, type: "default"), subllmNames!, src)
        }
        let ignored = checkpoint.names.filter { !src.used.contains($0) }
        if !ignored.isEmpty {
            let shown = ignored.prefix(8).joined(separator: ", ")
            warn("\(directory): \(ignored.count) checkpoint tensor(s) not used by the \(cc.config.architecture) model: \(shown)\(ignored.count > 8 ? ", …" : "")")
        }

        // Tokenizer: carried verbatim, checked now so that an unsupported one fails here.
        // tokenizer.json first (what transformers loads), else a SentencePiece tokenizer.model.
        var tokPath = directory + "/tokenizer.json"
        var tokenizer: [UInt8]?
        var tokInfo: TokenizerInfo?
        for name in TokenizerFormat.fileNames {
            let path = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let bytes = [UInt8](data)
            tokInfo = try tokenizerCheck(bytes, path)
            tokenizer = bytes
            tokPath = path
            break
        }
        if tokenizer == nil {
            warn("\(directory): no tokenizer.json or tokenizer.model: the model will run from token ids only (rill run --ids)")
        }
        if tokInfo != nil {
            // transformers' rule: tokenizer_config.json's add_bos_token, else the model
            // config's, else the tokenizer class's default (true for SentencePiece/LLaMA
            // tokenizers, false for byte-level BPE).
            let flag = addBOSToken(directory + "/tokenizer_config.json") ?? addBOSToken(configPath)
            tokInfo!.addBOS = flag ?? (tokInfo!.format == "sentencepiece-model")
            tokInfo!.chatTemplate = try chatTemplate(in: directory)
            if let source = tokInfo!.chatTemplate {
                do {
                    _ = try ChatTemplate(source: source)
                } catch {
                    warn("\(directory): the chat template is outside Rill's Jinja subset (\(error)); it is stored, and rill serve/chat will need --chat-template")
                }
            }
            if tokInfo!.addBOS && cc.bosTokenID == nil {
                warn("\(directory): add_bos_token is set but no bos_token_id is known: texts are encoded without BOS")
                tokInfo!.addBOS = false
            }
        }

        var sources: [Provenance.SourceFile] = []
        var sourceBytes = 0
        for path in [configPath] + checkpoint.files.map(\.path) + (tokenizer == nil ? [] : [tokPath]) {
            let m = try MappedFile(path: path)
            sources.append(.init(name: (path as NSString).lastPathComponent, bytes: m.size, xxh64: hex(xxh64(m.base, count: m.size))))
            sourceBytes += m.size
        }

        let policy = QuantPolicy(requested: options.quant, overrides: options.overrides)
        let pending = try plan.map { p in
            let type = policy.type(for: p.name, shape: p.shape, role: p.role)
            let importance = type == .int4k ? options.importance[p.name] : nil
            if let importance, importance.count != p.shape.last {
                throw ConvertError.calibrationMismatch(tensor: p.name, columns: p.shape.last ?? 0, weights: importance.count)
            }
            return PendingTensor(name: p.name, type: type, shape: p.shape, importance: importance, values: p.values)
        }
        let metadata = RillMetadata(
            config: cc.config, bosTokenID: cc.bosTokenID, eosTokenID: cc.eosTokenID, tokenizer: tokInfo,
            provenance: Provenance(converter: version, sourceArchitecture: cc.sourceArchitecture, sourceFiles: sources, sourceDType: cc.sourceDType),
            quantization: QuantizationInfo(
                requested: options.quant.description, overrides: options.overrides.map { "\($0.pattern)=\($0.type)" },
                calibration: options.importance.isEmpty ? nil : options.calibration),
            configSources: cc.sources)

        var reports = [ConvertSummary.TensorReport?](repeating: nil, count: pending.count)
        let specs = try RillWriter.write(
            to: output, metadata: metadata, tokenizer: tokenizer, tensors: pending,
            progress: { done, total, name in events(.tensorWritten(done: done, total: total, name: name)) },
            onEncoded: { i, values, stored in
                reports[i] = .init(
                    name: stored.name, type: stored.type, shape: stored.shape, bytes: stored.layout.byteCount,
                    relativeRMSE: relativeRMSE(values, stored), calibrated: pending[i].importance != nil)
            })
        let fileBytes = specs.map { Int($0.offset + $0.length) }.max() ?? 0
        return ConvertSummary(
            architecture: cc.config.architecture, tensors: reports.compactMap { $0 }, fileBytes: fileBytes,
            sourceBytes: sourceBytes, hasTokenizer: tokenizer != nil, warnings: warnings)
    }
}

/// A conversion's own failures (the file and field errors are ``RillFileError``s).
public enum ConvertError: Error, CustomStringConvertible {
    case calibrationMismatch(tensor: String, columns: Int, weights: Int)

    public var description: String {
        switch self {
        case let .calibrationMismatch(t, c, w):
            return "calibration statistics of '\(t)' have \(w) columns, the tensor \(c): they were measured on another model"
        }
    }
}

/// Decides whether the LM head is the embedding as the reference does (``TieRule``), and
/// records the decision where the checkpoint's tensors, not the flag alone, made it.
func resolveTiedHead(
    _ cc: inout CheckpointConfig, _ src: SourceReader, names: (embedding: String, head: String), configPath: String,
    warn: (String) -> Void
) throws {
    let (embedding, head) = names
    let shape = [cc.config.vocabSize, cc.config.hiddenSize]
    let tied: Bool
    switch cc.tie {
    case .flag(false), .shared(false):
        tied = false
    case .shared(true):
        if src.has(head) {
            guard try src.values(head, shape) == src.values(embedding, shape) else {
                throw RillFileError.invalidField(
                    path: configPath, field: "tie_weights",
                    expected: "false, or \(head) equal to \(embedding) (the model shares one matrix, and loading two different ones keeps whichever comes last)",
                    found: "true, and the two differ")
            }
            try src.require(head, shape)
        }
        tied = true
    case .flag(true):
        if !src.has(head) {
            tied = true
        } else if try src.values(head, shape) == src.values(embedding, shape) {
            try src.require(head, shape)  // the same matrix saved twice: read, not ignored
            tied = true
        } else {
            warn("\(configPath): tie_word_embeddings is true but \(head) differs from \(embedding): the stored head is used, as transformers 5 does")
            cc.sources["tie_word_embeddings"] = ConfigSource(.derived, "false: \(head) is stored and differs from the embedding")
            tied = false
        }
    case .unsetTiedWhenHeadAbsent:
        tied = !src.has(head)
        cc.sources["tie_word_embeddings"] = ConfigSource(
            .derived, tied ? "true: unset, and no \(head) is stored (transformers 4 ties by default)" : "false: unset, and \(head) is stored (transformers 5 does not tie)")
    }
    cc.config = cc.config.withTiedHead(tied)
}

/// ‖x − x̂‖ / ‖x‖ over the whole tensor, x̂ the stored (dequantised) values.
func relativeRMSE(_ x: [Float], _ stored: TensorView) -> Double {
    if stored.type == .f32 { return 0 }
    var row = [Float](repeating: 0, count: stored.cols)
    var err = 0.0, ref = 0.0
    row.withUnsafeMutableBufferPointer { buf in
        for r in 0..<stored.rows {
            stored.dequantizeRow(r, into: buf)
            for j in 0..<stored.cols {
                let a = Double(x[r * stored.cols + j]), b = Double(buf[j])
                err += (a - b) * (a - b)
                ref += a * a
            }
        }
    }
    return ref == 0 ? (err == 0 ? 0 : .infinity) : (err / ref).squareRoot()
}

/// The checkpoint's chat template, found where transformers looks: `chat_template.jinja` (what
/// `save_pretrained` writes since transformers 4.47, and what wins when both are present), else
/// `tokenizer_config.json`'s `chat_template`, a string or a list of `{name, template}` of which
/// the one named `default` is used. Nil when there is none; a field of another shape is an
/// error naming it.
func chatTemplate(in directory: String) throws -> String? {
    let jinjaPath = directory + "/chat_template.jinja"
    if let data = FileManager.default.contents(atPath: jinjaPath) {
        guard let text = String(data: data, encoding: .utf8) else {
            throw RillFileError.invalidField(path: jinjaPath, field: "(file)", expected: "UTF-8 text", found: "invalid UTF-8")
        }
        return text
    }
    let path = directory + "/tokenizer_config.json"
    guard let data = FileManager.default.contents(atPath: path) else { return nil }
    guard let object = try? JSONValue.object(from: data, path: path), let value = object["chat_template"] else { return nil }
    switch value {
    case .null: return nil
    case let .string(s): return s
    case let .array(items):
        for item in items {
            if case let .object(o) = item, o["name"] == .string("default"), case let .string(t)? = o["template"] { return t }
        }
        throw RillFileError.invalidField(path: path, field: "chat_template", expected: "a template string, or a list with one named \"default\"", found: "a list without it")
    default:
        throw RillFileError.invalidField(path: path, field: "chat_template", expected: "a template string", found: value.shown)
    }
}

/// The `add_bos_token` field of a JSON file, or nil when the file or the field is absent or not
/// a boolean.
func addBOSToken(_ path: String) -> Bool? {
    struct Probe: Decodable { let add_bos_token: Bool? }
    guard let data = FileManager.default.contents(atPath: path), (try? checkJSONBytes(data)) != nil else { return nil }
    return (try? JSONDecoder().decode(Probe.self, from: data))?.add_bos_token
}
