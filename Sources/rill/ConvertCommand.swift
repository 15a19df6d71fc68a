import ArgumentParser
import Foundation
import RillConvert
import RillFormat

extension QuantType: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { ["f32", "f16", "int8", "int4"] }
}

/// Path of the temporary file to remove if the user interrupts a conversion.
nonisolated(unsafe) private var interruptedTempPath: UnsafeMutablePointer<CChar>?

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a Hugging Face checkpoint folder into one .rill file.",
        discussion: """
            The folder holds config.json, model.safetensors (or shards with \
            model.safetensors.index.json) and, usually, tokenizer.json.

            Default policy: projection matrices in the --quant type; the embedding and an \
            untied LM head at least int8 (int8 when --quant int4); norms, Mamba's A, D, dt bias \
            and conv weights, TransNormerLLM decays and LRPE θ always f32. Matrices whose rows \
            are shorter than one 32-element block stay f32. Use --override to change any tensor.

            The file is written to a temporary file beside OUTPUT and renamed into place when \
            complete: an error or Ctrl-C leaves nothing behind.
            """)

    @Argument(help: "Hugging Face checkpoint folder.", completion: .directory)
    var checkpoint: String

    @Option(name: .shortAndLong, help: "Output .rill file.")
    var output: String

    @Option(name: .shortAndLong, help: "Weight type of the projection matrices: f32, f16, int8 or int4.")
    var quant: QuantType = .int8

    @Option(
        name: .long, parsing: .singleValue,
        help: ArgumentHelp("Store tensors matching a glob in another type, e.g. '*.x_proj.weight=f32'. Repeatable.", valueName: "PATTERN=TYPE"))
    var override: [String] = []

    @Flag(name: .long, help: "Print nothing but errors.")
    var quiet = false

    @Flag(name: .shortAndLong, help: "Also list the config.json keys that neither the reference implementation nor Rill reads (they are ignored).")
    var verbose = false

    func validate() throws {
        for o in override where QuantPolicy.parseOverride(o) == nil {
            throw ValidationError("--override '\(o)': expected PATTERN=TYPE with TYPE one of f32, f16, int8, int4")
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
                    if !quiet { Terminal.status("[\(done)/\(total)] \(name)") }
                case let .ignoredConfigKeys(keys):
                    if verbose && !quiet {
                        Terminal.errLine("config.json keys ignored (unknown to the reference and to Rill): \(keys.joined(separator: ", "))")
                    }
                }
            })
        Terminal.clearStatus()
        guard !quiet else { return }
        let seconds = Date().timeIntervalSince(start)
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
