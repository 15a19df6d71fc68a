import ArgumentParser
import Foundation
import RillFormat

struct ModelPath: ParsableArguments {
    @Argument(help: "A .rill model file (made by 'rill convert').", completion: .file(extensions: ["rill"]))
    var path: String
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a .rill file's architecture, hyper-parameters, tokenizer and tensor table.",
        discussion: "Reads the header and tables only; run 'rill verify' to check the tensors' checksums.")

    @OptionGroup var model: ModelPath

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    func run() throws {
        let start = Date()
        let file = try RillFile(path: model.path)
        let openMs = Date().timeIntervalSince(start) * 1000
        if json {
            let report = InspectReport(file: file, openMs: openMs)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            Terminal.out(String(decoding: try enc.encode(report), as: UTF8.self) + "\n")
        } else {
            Terminal.out(humanReport(file))
        }
    }

    private func humanReport(_ f: RillFile) -> String {
        let m = f.metadata
        var s = "file:          \(f.path) (\(formatBytes(Int(f.header.fileSize))), format \(f.header.major).\(f.header.minor))\n"
        s += "architecture:  \(m.config.architecture) (from \(m.provenance.sourceArchitecture))\n"
        s += "quantisation:  \(m.quantization.requested)\(m.quantization.overrides.isEmpty ? "" : " with " + m.quantization.overrides.joined(separator: ", "))\n"
        s += "converter:     \(m.provenance.converter)\n"
        if let dtype = m.provenance.sourceDType { s += "source dtype:  \(dtype)\n" }
        s += "hyper-parameters (value, and where rill convert found it):\n"
        for line in configLines(m.config) {
            let from: String
            if let key = line.key {
                from = m.configSources?[key].map(sourceText) ?? "(not recorded: file written before format 2.1)"
            } else {
                from = "(computed from the above)"
            }
            s += "  " + line.name.padding(toLength: 22, withPad: " ", startingAt: 0) + " "
                + line.value.padding(toLength: max(16, line.value.count), withPad: " ", startingAt: 0) + "  " + from + "\n"
        }
        for line in kvCacheLines(f) { s += line + "\n" }
        if let t = m.tokenizer {
            s += "tokenizer:     \(t.model), \(t.vocabSize) tokens (\(t.format), \(formatBytes(Int(f.header.tokenizerLength))))\(t.addBOS ? ", adds BOS" : "")\n"
        } else {
            s += "tokenizer:     none (run with --ids)\n"
        }
        if let b = m.bosTokenID { s += "bos token:     \(b)\n" }
        if let e = m.eosTokenID { s += "eos token:     \(e)\n" }
        var bytesByType: [QuantType: Int] = [:]
        for t in f.tensors { bytesByType[t.type, default: 0] += Int(t.length) }
        s += "tensors:       \(f.tensors.count) (" + QuantType.allCases.compactMap { t in bytesByType[t].map { "\(t) \(formatBytes($0))" } }.joined(separator: ", ") + ")\n"
        let nameWidth = min(60, f.tensors.map(\.name.count).max() ?? 10)
        s += "\n" + "name".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  type   shape                bytes       offset\n"
        for t in f.tensors {
            let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            s += t.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                + t.type.description.padding(toLength: 5, withPad: " ", startingAt: 0) + "  "
                + shape.padding(toLength: 20, withPad: " ", startingAt: 0) + " "
                + String(t.length).leftPad(10) + "  " + String(t.offset).leftPad(11) + "\n"
        }
        return s
    }
}

/// Hyper-parameters as lines: every key of the file's `config` (`Formats/rill.md` §4.3) under
/// its own name, then a few values derived from them that users look for (no `key`).
func configLines(_ c: ModelConfig) -> [(name: String, value: String, key: String?)] {
    func k(_ name: String, _ v: Any) -> (String, String, String?) { (name, "\(v)", name) }
    func note(_ name: String, _ v: String) -> (String, String, String?) { (name, v, nil) }
    switch c {
    case let .mamba(m):
        return [
            k("hidden_size", m.hiddenSize), k("num_layers", m.numLayers), k("vocab_size", m.vocabSize),
            k("state_size", m.stateSize), k("conv_kernel", m.convKernel), k("intermediate_size", m.intermediateSize),
            k("time_step_rank", m.timeStepRank), k("layer_norm_epsilon", m.layerNormEpsilon),
            k("use_conv_bias", m.useConvBias), k("use_bias", m.useBias), k("tie_word_embeddings", m.tieWordEmbeddings),
        ]
    case let .transnormer(t):
        return [
            k("embed_dim", t.embedDim), k("hidden_dim", t.hiddenDim), k("num_layers", t.numLayers),
            k("num_heads", t.numHeads), k("glu_dim", t.gluDim), k("vocab_size", t.vocabSize),
            ("lrpe_layers", t.lrpeLayers.enumerated().filter(\.element).map { String($0.offset) }.joined(separator: ",").ifEmpty("none"), "lrpe_layers"),
            k("no_scale_embedding", t.noScaleEmbedding), k("norm_epsilon", t.normEpsilon),
            k("tie_word_embeddings", t.tieWordEmbeddings),
            note("head_dim", "\(t.headDim)"), note("embedding_scale", t.noScaleEmbedding ? "1" : "sqrt(\(t.embedDim))"),
        ]
    case let .samba(s):
        let pattern = (0..<s.numLayers).map { s.isAttention(layer: $0) ? "A" : "M" }.joined(separator: " ")
        return [
            k("hidden_size", s.hiddenSize), k("num_layers", s.numLayers), k("vocab_size", s.vocabSize),
            k("state_size", s.stateSize), k("conv_kernel", s.convKernel), k("mamba_inner_size", s.mambaInnerSize),
            k("time_step_rank", s.timeStepRank), k("use_conv_bias", s.useConvBias), k("use_bias", s.useBias),
            ("attention_layers", s.attentionLayers.map(String.init).joined(separator: ",").ifEmpty("none"), "attention_layers"),
            k("num_heads", s.numHeads), k("num_kv_heads", s.numKVHeads), k("head_dim", s.headDim),
            k("window_size", s.windowSize), k("rope_theta", s.ropeTheta), k("qkv_bias", s.qkvBias),
            k("intermediate_size", s.intermediateSize), k("norm_epsilon", s.normEpsilon),
            k("tie_word_embeddings", s.tieWordEmbeddings),
            note("layer_pattern", "\(pattern) (M = Mamba, A = sliding-window attention)"),
        ]
    case let .subllm(m):
        return [
            k("hidden_size", m.hiddenSize), k("num_layers", m.numLayers), k("num_heads", m.numHeads),
            k("num_kv_heads", m.numKVHeads), k("head_dim", m.headDim), k("intermediate_size", m.intermediateSize),
            k("vocab_size", m.vocabSize), k("structure", m.structure), k("norm_epsilon", m.normEpsilon),
            k("rope_theta", m.ropeTheta), k("rope_scaling", m.ropeScaling), k("qk_bias", m.qkBias), k("vo_bias", m.voBias),
            k("embedding_scale", m.embeddingScale), k("max_positions", m.maxPositions),
            ("keep_rate", m.keepRate.map { "\($0)" } ?? "none", "keep_rate"), k("tie_word_embeddings", m.tieWordEmbeddings),
            note("levels", m.isPlainLLaMA ? "one (plain LLaMA: every block sees every token)"
                : "\(m.program.bracketCount) bracket(s), nested \(m.program.maxDepth) deep"),
        ]
    }
}

/// SUBLLM/LLaMA: the keys and values a session reserves, and what one token adds at each
/// level (a token dropped by a bracket adds nothing to the blocks inside it).
func kvCacheLines(_ f: RillFile) -> [String] {
    guard case let .subllm(c) = f.metadata.config else { return [] }
    let quantised = f.spec("layers.0.attn.qkv.weight")?.type.isBlockQuantised ?? false
    let elem = quantised ? 2 : 4
    let perLayer = 2 * c.numKVHeads * c.headDim * elem
    let program = c.program
    var lines = ["key/value cache: \(quantised ? "f16" : "f32") (rill run --kv-cache), \(formatBytes(perLayer * c.numLayers * c.maxPositions)) reserved at the default --ctx \(c.maxPositions)"]
    let top = program.blockBracket.filter { $0 == nil }.count
    lines.append("  every token        \(top) block(s), \(formatBytes(perLayer * top)) per token")
    for k in 0..<program.bracketCount {
        let n = program.blockBracket.filter { $0 == k }.count
        lines.append("  bracket \(k) (depth \(program.bracketDepth[k]))" + String(repeating: " ", count: max(0, 3 - String(k).count))
            + "\(n) block(s), \(formatBytes(perLayer * n)) per token it keeps")
    }
    return lines
}

struct InspectReport: Encodable {
    struct Tensor: Encodable {
        let name: String, type: String, shape: [Int], offset: UInt64, length: UInt64, xxh64: String
    }
    let file: String
    let fileBytes: UInt64
    let formatVersion: String
    let architecture: String
    let layerPattern: String?
    let metadata: RillMetadata
    let tensors: [Tensor]
    let openMs: Double

    init(file f: RillFile, openMs: Double) {
        file = f.path
        fileBytes = f.header.fileSize
        formatVersion = "\(f.header.major).\(f.header.minor)"
        architecture = f.metadata.config.architecture
        if case let .samba(s) = f.metadata.config {
            layerPattern = (0..<s.numLayers).map { s.isAttention(layer: $0) ? "attention" : "mamba" }.joined(separator: ",")
        } else {
            layerPattern = nil
        }
        metadata = f.metadata
        tensors = f.tensors.map { Tensor(name: $0.name, type: $0.type.description, shape: $0.shape, offset: $0.offset, length: $0.length, xxh64: hex($0.xxh64)) }
        self.openMs = openMs
    }

    enum CodingKeys: String, CodingKey {
        case file, fileBytes = "file_bytes", formatVersion = "format_version", architecture
        case layerPattern = "layer_pattern", metadata, tensors, openMs = "open_ms"
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum in a .rill file (header, metadata, tokenizer, tensor table, each tensor).",
        discussion: "Exit status 0 when all match, 1 otherwise.")

    @OptionGroup var model: ModelPath

    func run() throws {
        let file = try RillFile(path: model.path)
        _ = try file.tokenizerBytes()
        let bad = file.verify { done, total in Terminal.status("verifying \(done)/\(total)") }
        Terminal.clearStatus()
        if bad.isEmpty {
            Terminal.out("\(model.path): OK (\(file.tensors.count) tensors, \(formatBytes(Int(file.header.fileSize))))\n")
            return
        }
        for b in bad {
            Terminal.errLine("\(model.path): tensor '\(b.name)': checksum mismatch (stored \(hex(b.expected)), computed \(hex(b.found)))")
        }
        throw ExitCode.failure
    }
}

/// `file: hidden_size`, `alias: n_layer`, `default (state_size absent)`, `derived: …`.
func sourceText(_ s: ConfigSource) -> String {
    switch s.origin {
    case .file: return "file: \(s.key)"
    case .alias: return "alias: \(s.key)"
    case .default: return "default (\(s.key) absent)"
    case .derived: return "derived: \(s.key)"
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
    func ifEmpty(_ s: String) -> String { isEmpty ? s : self }
}
