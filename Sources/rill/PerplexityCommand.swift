import ArgumentParser
import Foundation
import RillRuntime

struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity over a text file, and KL divergence against a base model.",
        discussion: """
            As llama.cpp's llama-perplexity: the text is cut into chunks of --ctx tokens (default \
            512), each starting from an empty state; the second half of each chunk is scored.
              rill perplexity model-int4.rill --file held-out.txt
              rill perplexity model-int4.rill --file held-out.txt --kl-base model-f32.rill
            """)

    @OptionGroup var model: ModelPath

    @Option(help: "UTF-8 text file to score.")
    var file: String

    @Option(name: .customLong("kl-base"), help: "Base model (e.g. the f32 conversion) for KL divergence and arg-max agreement.")
    var klBase: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    @OptionGroup var execution: ExecutionOptions

    /// Tokens per chunk: `--ctx`, 512 by default (llama-perplexity's default).
    var ctx: Int { execution.context ?? 512 }

    func validate() throws {
        if ctx < 4 || ctx > 1 << 20 { throw ValidationError("--ctx must be in 4…1048576") }
    }

    func run() throws {
        let m = try Model(path: model.path)
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ValidationError("\(file): cannot read it as UTF-8 text")
        }
        let tokens = try m.encode(text)
        guard tokens.count >= ctx else {
            throw ValidationError("\(file): \(tokens.count) tokens, fewer than one chunk of --ctx \(ctx)")
        }
        let session = Session(model: m, threads: execution.threads, chunk: execution.chunk, kvCache: execution.kvCache, context: ctx)
        var baseSession: Session?
        if let klBase {
            let b = try Model(path: klBase)
            guard b.vocabSize == m.vocabSize else {
                throw ValidationError("--kl-base \(klBase): vocabulary \(b.vocabSize) differs from the model's \(m.vocabSize)")
            }
            // The base is the reference: its own K/V default (f32 for an f32 file), not --kv-cache.
            baseSession = Session(model: b, threads: execution.threads, chunk: execution.chunk, context: ctx)
        }
        let r = try Perplexity.run(tokens: tokens, model: session, base: baseSession, context: ctx) { c, n, ppl in
            Terminal.status("[\(c)/\(n)] perplexity \(String(format: "%.4f", ppl))")
        }
        Terminal.clearStatus()
        if json {
            var obj: [String: Double] = ["perplexity": r.perplexity, "chunks": Double(r.chunks), "scored_tokens": Double(r.scoredTokens)]
            obj["base_perplexity"] = r.basePerplexity
            obj["kl_mean"] = r.meanKL
            obj["kl_p99"] = r.p99KL
            obj["argmax_agreement"] = r.argmaxAgreement
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            Terminal.out(String(decoding: try enc.encode(obj), as: UTF8.self) + "\n")
            return
        }
        var s = "chunks \(r.chunks) × \(ctx) tokens, \(r.scoredTokens) scored\n"
        s += String(format: "perplexity        %.4f\n", r.perplexity)
        if let b = r.basePerplexity { s += String(format: "base perplexity   %.4f\n", b) }
        if let k = r.meanKL { s += String(format: "KL mean           %.6f nats\n", k) }
        if let k = r.p99KL { s += String(format: "KL 99th pct       %.6f nats\n", k) }
        if let a = r.argmaxAgreement { s += String(format: "same top token    %.2f %%\n", a * 100) }
        Terminal.out(s)
    }
}
