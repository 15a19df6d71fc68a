import ArgumentParser
import Foundation
import RillConvert
import RillFormat

extension QuantType: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { ["f32", "f16", "int8", "int4", "int4k"] }
    /// The name, not the raw type code (which ArgumentParser would show for a UInt8 enum).
    public var defaultValueDescription: String { description }
}

/// Path of the temporary file to remove if the user interrupts a conversion.
nonisolated(unsafe) private var interruptedTempPath: UnsafeMutablePointer<CChar>?

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a Hugging Face checkpoint folder into one .rill file.",
        discussion: """
            The folder holds config.json, model.safetensors (or shards with \
            model.safetensors.index.json) and, usually, tokenizer.json.

            Default policy: projection matrices in the --quant type (int4 stores them as \
            int4k, asymmetric 4-bit blocks with 8-bit scale and minimum codes, 4.5 bits a \
            weight); the embedding and an untied LM head at least int8 (int8 under int4 and \
            int4k); norms, Mamba's A, D, dt bias \
            and conv weights, TransNormerLLM decays and LRPE θ always f32. Matrices whose rows \
            are shorter than one 32-element block stay f32. Use --override to change any tensor.

            The file is written to a temporary file beside OUTPUT and renamed into place when \
            complete: an error or Ctrl-C leaves nothing behind.
            """)

    @Argument(help: "Hugging Face checkpoint folder.", completion: .directory)
    var checkpoint: String

    @Option(name: .shortAndLong, help: "Output .rill file.")
    var output: String

    @Option(name: .shortAndLong, help: "Weight type of the projection matrices: f32, f16, int8, int4 (stored as int4k) or int4k.")
    var quant: QuantType = .int8

    @Option(
        name: .long, parsing: .singleValue,
        help: ArgumentHelp("Store tensors matching a glob in another type, e.g. '*.x_proj.weight=f32'. Repeatable.", valueName: "PATTERN=TYPE"))
    var override: [String] = []

    @Flag(name: .long, help: "Print nothing but errors.")
    var quiet = false

    @Flag(name: .long, help: "Print one JSON object: the file, and each tensor's type, shape, bytes and quantisation error.")
    var json = false

    @Flag(name: .shortAndLong, help: "Also list the config.json keys that neither the reference implementation nor Rill reads (they are ignored).")
    var verbose = false

    func validate() throws {
        for o in override where QuantPolicy.parseOverride(o) == nil {
            throw ValidationError("--override '\(o)': expected PATTERN=TYPE with TYPE one of f32, f16, int8, int4, int4k")
        }
        if output.isEmpty { throw ValidationError("--output is empty") }
    }

    func run() throws {
        let options = ConvertOptions(quant: quant, overrides: override.compactMap(QuantPolicy.parseOverride))
        installInterruptCleanup(for: RillWriter.temporaryPath(for: output))
        defer { removeInterruptCleanup() }
        let start = Date()
        let summary = try Converter.convert(
            directory: checkpoint, output: output, options: options,
            tokenizerCheck: checkTokenizer,
            events: { event in
                switch event {
                case let .warning(w): Terminal.errLine("warning: \(w)")
                case let .tensorWritten(done, total, name):
                    if !quiet && !json { Terminal.status("[\(done)/\(total)] \(name)") }
                case let .ignoredConfigKeys(keys):
                    if verbose && !quiet {
                        Terminal.errLine("config.json keys ignored (unknown to the reference and to Rill): \(keys.joined(separator: ", "))")
                    }
                }
            })
        Terminal.clearStatus()
        let seconds = Date().timeIntervalSince(start)
        if json {
            try printJSON(summary, seconds: seconds)
            return
        }
        guard !quiet else { return }
        // Each tensor's type and error, as llama-quantize lists them: the table goes to stdout.
        let width = max(4, summary.tensors.map(\.name.count).max() ?? 0)
        print("name".padding(toLength: width, withPad: " ", startingAt: 0) + "  type   shape                bytes        rel. RMSE")
        for t in summary.tensors {
            let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            print(t.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                  + t.type.description.padding(toLength: 5, withPad: " ", startingAt: 0) + "  "
                  + shape.padding(toLength: 20, withPad: " ", startingAt: 0) + " "
                  + String(t.bytes).leftPad(10) + "   "
                  + (t.type == .f32 ? "-" : String(format: "%.5f", t.relativeRMSE)))
        }
        var lines: [String] = []
        lines.append("wrote \(output): \(summary.architecture), \(summary.tensors.count) tensors, \(formatBytes(summary.fileBytes)) (source \(formatBytes(summary.sourceBytes)), \(String(format: "%.2f", Double(summary.fileBytes) / Double(max(summary.sourceBytes, 1))))×) in \(String(format: "%.1f", seconds)) s")
        let counts = QuantType.allCases.compactMap { t in summary.countsByType[t].map { "\($0) \(t)" } }
        lines.append("types: " + counts.joined(separator: ", "))
        if let w = summary.worst, w.relativeRMSE > 0 {
            lines.append("worst quantisation error: \(w.name) (\(w.type)) relative RMSE \(String(format: "%.4f", w.relativeRMSE))")
        }
        if !summary.hasTokenizer { lines.append("no tokenizer: run with --ids") }
        Terminal.errLine(lines.joined(separator: "\n"))
    }
}

extension Convert {
    /// `--json`: the same facts as the text output, one object on stdout.
    private func printJSON(_ summary: ConvertSummary, seconds: Double) throws {
        struct Tensor: Encodable {
            let name: String, type: String, shape: [Int], bytes: Int
            let relative_rmse: Double
        }
        struct Report: Encodable {
            let output: String, architecture: String, requested: String
            let file_bytes: Int, source_bytes: Int, seconds: Double
            let has_tokenizer: Bool, warnings: [String]
            let tensors: [Tensor]
        }
        let report = Report(
            output: output, architecture: summary.architecture, requested: quant.description,
            file_bytes: summary.fileBytes, source_bytes: summary.sourceBytes, seconds: seconds,
            has_tokenizer: summary.hasTokenizer, warnings: summary.warnings,
            tensors: summary.tensors.map {
                Tensor(name: $0.name, type: $0.type.description, shape: $0.shape, bytes: $0.bytes, relative_rmse: $0.relativeRMSE)
            })
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        print(String(decoding: try enc.encode(report), as: UTF8.self))
    }
}

private func installInterruptCleanup(for path: String) {
    interruptedTempPath = strdup(path)
    let handler: @convention(c) (Int32) -> Void = { sig in
        if let p = interruptedTempPath { unlink(p) }
        _exit(128 + sig)
    }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    signal(SIGHUP, handler)
}

private func removeInterruptCleanup() {
    signal(SIGINT, SIG_DFL)
    signal(SIGTERM, SIG_DFL)
    signal(SIGHUP, SIG_DFL)
    free(interruptedTempPath)
    interruptedTempPath = nil
}
