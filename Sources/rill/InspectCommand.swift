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
        for (k, v) in configLines(m.config) { s += "  \(k.padding(toLength: 22, withPad: " ", startingAt: 0)) \(v)\n" }
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
        s += "\n" + "name".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  type  shape                bytes       offset\n"
        for t in f.tensors {
            let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            s += t.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                + t.type.description.padding(toLength: 4, withPad: " ", startingAt: 0) + "  "
                + shape.padding(toLength: 20, withPad: " ", startingAt: 0) + " "
                + String(t.length).leftPad(10) + "  " + String(t.offset).leftPad(11) + "\n"
        }
        return s
    }
}

/// Hyper-parameters as (name, value) lines, including the derived ones users look for.
func configLines(_ c: ModelConfig) -> [(String, String)] {
    switch c {
    case let .mamba(m):
        return [
            ("hidden_size", "\(m.hiddenSize)"), ("num_layers", "\(m.numLayers)"), ("vocab_size", "\(m.vocabSize)"),
            ("state_size", "\(m.stateSize)"), ("conv_kernel", "\(m.convKernel)"), ("intermediate_size", "\(m.intermediateSize)"),
            ("time_step_rank", "\(m.timeStepRank)"), ("layer_norm_epsilon", "\(m.layerNormEpsilon)"),
            ("tie_word_embeddings", "\(m.tieWordEmbeddings)"),
        ]
    case let .transnormer(t):
        return [
            ("embed_dim", "\(t.embedDim)"), ("hidden_dim", "\(t.hiddenDim)"), ("num_layers", "\(t.numLayers)"),
            ("num_heads", "\(t.numHeads) (head dim \(t.headDim))"), ("glu_dim", "\(t.gluDim)"), ("vocab_size", "\(t.vocabSize)"),
            ("lrpe_layers", t.lrpeLayers.enumerated().filter(\.element).map { String($0.offset) }.joined(separator: ",").ifEmpty("none")),
            ("scale_embedding", t.noScaleEmbedding ? "no" : "sqrt(\(t.embedDim))"), ("norm_epsilon", "\(t.normEpsilon)"),
        ]
    case let .samba(s):
        let pattern = (0..<s.numLayers).map { s.isAttention(layer: $0) ? "A" : "M" }.joined(separator: " ")
        return [
            ("hidden_size", "\(s.hiddenSize)"), ("num_layers", "\(s.numLayers)"), ("vocab_size", "\(s.vocabSize)"),
            ("layer_pattern", "\(pattern) (M = Mamba, A = sliding-window attention)"),
            ("window_size", "\(s.windowSize)"),
            ("attention_heads", "\(s.numHeads) query, \(s.numKVHeads) key/value, head dim \(s.headDim)"),
            ("rope_theta", "\(s.ropeTheta)"), ("mamba_state_size", "\(s.stateSize)"), ("mamba_inner_size", "\(s.mambaInnerSize)"),
            ("conv_kernel", "\(s.convKernel)"), ("time_step_rank", "\(s.timeStepRank)"), ("mlp_size", "\(s.intermediateSize)"),
            ("norm_epsilon", "\(s.normEpsilon)"), ("tie_word_embeddings", "\(s.tieWordEmbeddings)"),
        ]
    }
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

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
    func ifEmpty(_ s: String) -> String { isEmpty ? s : self }
}
