import ArgumentParser
import Foundation
import RillConvert
import RillFormat
import RillRuntime

extension QuantType: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { ["f32", "f16", "int8", "int4", "int4k"] }
    /// The name, not the raw type code (which ArgumentParser would show for a UInt8 enum).
    public var defaultValueDescription: String { description }
}

/// Paths of the temporary files to remove if the user interrupts a conversion (set before the
/// handler is installed, read only by it).
nonisolated(unsafe) private var interruptedTempPaths: [UnsafeMutablePointer<CChar>] = []

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

            --calibrate TEXT (with int4/int4k) first converts the checkpoint to f32 in a \
            temporary file beside OUTPUT, runs it over TEXT and measures each projection's \
            mean square input per column (what llama.cpp's llama-imatrix measures); the 4-bit \
            search then minimises the error weighted by it. Calibrate on text like what the \
            model will read, never on the text you evaluate it on:
              rill convert ckpt -o model-int4.rill --quant int4 --calibrate calibration.txt
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

    @Option(help: ArgumentHelp("UTF-8 text to calibrate the int4k search on (see above).", valueName: "TEXT"), completion: .file())
    var calibrate: String?

    @Option(name: .customLong("calibrate-ctx"), help: "Tokens per calibration chunk, each from an empty state.")
    var calibrateCtx = 512

    @Option(name: .customLong("calibrate-chunks"), help: "Calibrate on at most this many chunks of TEXT (default: all of it).")
    var calibrateChunks: Int?

    @Option(name: [.customShort("t"), .long], help: "Threads for the calibration run (default: the machine's cores).")
    var threads: Int?

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
        if calibrate != nil {
            let overrides = override.compactMap(QuantPolicy.parseOverride)
            guard quant == .int4 || quant == .int4k || overrides.contains(where: { $0.type == .int4k }) else {
                throw ValidationError("--calibrate steers only the int4k search: use it with --quant int4 (or int4k)")
            }
        }
        if calibrateCtx < 2 || calibrateCtx > 1 << 20 { throw ValidationError("--calibrate-ctx must be in 2…1048576") }
        if let n = calibrateChunks, n < 1 { throw ValidationError("--calibrate-chunks must be ≥ 1") }
        if let t = threads, t < 1 || t > 1024 { throw ValidationError("--threads must be in 1…1024") }
    }

    func run() throws {
        var options = ConvertOptions(quant: quant, overrides: override.compactMap(QuantPolicy.parseOverride))
        let calibrationModel = output + ".calibration-f32-\(getpid())"
        installInterruptCleanup(for: [
            RillWriter.temporaryPath(for: output), calibrationModel, RillWriter.temporaryPath(for: calibrationModel),
        ])
        defer { removeInterruptCleanup() }
        let start = Date()
        if let calibrate {
            let (importance, info) = try calibrationStatistics(text: calibrate, f32Path: calibrationModel)
            options.importance = importance
            options.calibration = info
        }
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
            try printJSON(summary, seconds: seconds, calibration: options.calibration)
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
                  + (t.type == .f32 ? "-" : String(format: "%.5f", t.relativeRMSE)) + (t.calibrated ? "  calibrated" : ""))
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
    /// `--calibrate`: the checkpoint in f32 at `f32Path` (removed afterwards), run over the
    /// text; returns each projection's per-column mean square input and what to record of it.
    private func calibrationStatistics(text path: String, f32Path: String) throws -> ([String: [Float]], CalibrationInfo) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("--calibrate \(path): cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("--calibrate \(path): not UTF-8 text")
        }
        defer { unlink(f32Path) }
        let started = Date()
        _ = try Converter.convert(
            directory: checkpoint, output: f32Path, options: ConvertOptions(quant: .f32), tokenizerCheck: checkTokenizer,
            events: { event in
                if case let .tensorWritten(done, total, name) = event, !quiet && !json {
                    Terminal.status("calibration model (f32) [\(done)/\(total)] \(name)")
                }
            })
        let model = try Model(path: f32Path)
        guard model.tokenizer != nil else {
            throw ValidationError("--calibrate: \(checkpoint) has no tokenizer.json or tokenizer.model to read \(path) with")
        }
        var tokens = try model.encode(text)
        if let n = calibrateChunks, tokens.count > n * calibrateCtx { tokens.removeLast(tokens.count - n * calibrateCtx) }
        let session = Session(model: model, threads: threads, chunk: min(calibrateCtx, 128), context: calibrateCtx)
        let result: Calibration.Result
        do {
            result = try Calibration.collect(session: session, tokens: tokens, context: calibrateCtx) { c, n in
                if !quiet && !json { Terminal.status("calibrating on \((path as NSString).lastPathComponent) [\(c)/\(n)]") }
            }
        } catch let e as CalibrationError {
            throw ValidationError("--calibrate \(path): \(e)")
        }
        Terminal.clearStatus()
        if !quiet && !json {
            Terminal.errLine("calibrated on \(path): \(result.tokens) tokens in \(result.chunks) chunk(s) of up to \(calibrateCtx), \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        }
        let info = CalibrationInfo(
            file: (path as NSString).lastPathComponent, bytes: data.count, xxh64: hex(xxh64([UInt8](data))),
            tokens: result.tokens, context: calibrateCtx)
        return (result.importance, info)
    }

    /// `--json`: the same facts as the text output, one object on stdout.
    private func printJSON(_ summary: ConvertSummary, seconds: Double, calibration: CalibrationInfo?) throws {
        struct Tensor: Encodable {
            let name: String, type: String, shape: [Int], bytes: Int
            let relative_rmse: Double
            let calibrated: Bool
        }
        struct Report: Encodable {
            let output: String, architecture: String, requested: String
            let file_bytes: Int, source_bytes: Int, seconds: Double
            let has_tokenizer: Bool, warnings: [String]
            let calibration: CalibrationInfo?
            let tensors: [Tensor]
        }
        let report = Report(
            output: output, architecture: summary.architecture, requested: quant.description,
            file_bytes: summary.fileBytes, source_bytes: summary.sourceBytes, seconds: seconds,
            has_tokenizer: summary.hasTokenizer, warnings: summary.warnings, calibration: calibration,
            tensors: summary.tensors.map {
                Tensor(name: $0.name, type: $0.type.description, shape: $0.shape, bytes: $0.bytes, relative_rmse: $0.relativeRMSE, calibrated: $0.calibrated)
            })
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        print(String(decoding: try enc.encode(report), as: UTF8.self))
    }
}

private func installInterruptCleanup(for paths: [String]) {
    interruptedTempPaths = paths.compactMap { strdup($0) }
    let handler: @convention(c) (Int32) -> Void = { sig in
        for p in interruptedTempPaths { unlink(p) }
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
    interruptedTempPaths.forEach { free($0) }
    interruptedTempPaths = []
}
