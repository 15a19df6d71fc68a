import ArgumentParser
import Foundation
import RillModels
import RillRuntime
import RillTokenizer

/// Options shared by the commands that execute a model.
struct ExecutionOptions: ParsableArguments {
    @Option(name: [.customShort("t"), .long], help: "Worker threads (default: the number of cores).")
    var threads: Int?

    // 128: Mamba-130m int8 prefill 288 tok/s against 244 at 64; TransNormer-385m 71 against
    // 48 (its Lightning block is the chunk), 2 threads, this machine.
    @Option(help: "Tokens per prefill pass, the Lightning Attention block of TransNormerLLM (fixed memory per pass).")
    var chunk: Int = 128

    @Option(name: .customLong("kv-cache"), help: ArgumentHelp(
        "How SAMBA's sliding-window keys and values are stored: f32, or f16 (half the memory; samba-tiny's f32 logits moved by up to 8.3e-3).",
        discussion: "Default: f16 for int8/int4 files, f32 for f32/f16 files (exact against the reference).",
        valueName: "type"))
    var kvCache: KVCacheType?

    @Option(name: .customLong("ctx"), help: ArgumentHelp(
        "Context: positions the session reserves attention keys and values for (SUBLLM, LLaMA).",
        discussion: "Default: the positions the model was trained for (its config's n_positions / max_position_embeddings); rill perplexity: tokens per chunk (512). The reservation is made at start and never grows; reaching it is an error. Mamba, TransNormerLLM and SAMBA keep a fixed state and need none.",
        valueName: "N"))
    var context: Int?

    func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be in 1…256") }
        if chunk < 1 || chunk > 4096 { throw ValidationError("--chunk must be in 1…4096") }
        if let context, context < 1 || context > 1 << 24 { throw ValidationError("--ctx must be in 1…16777216") }
    }
}

extension KVCacheType: ExpressibleByArgument {}

/// `--ids 1,2,3`: comma- or space-separated token ids.
func parseIDs(_ s: String) throws -> [Int32] {
    let parts = s.split(whereSeparator: { $0 == "," || $0 == " " })
    var ids: [Int32] = []
    for p in parts {
        guard let v = Int32(p) else { throw ValidationError("--ids: '\(p)' is not a token id") }
        ids.append(v)
    }
    if ids.isEmpty { throw ValidationError("--ids: no token ids") }
    return ids
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate text, streaming it as it is produced.",
        discussion: """
            Examples:
              rill run model.rill -p "In the beginning" -n 64
              rill run model.rill -p "And God said" -n 32 --temp 0          (greedy)
              rill run model.rill --ids 464,3290 -n 16                      (no tokenizer)
            Speed is printed on standard error at the end.
            """)

    @OptionGroup var model: ModelPath

    @Option(name: .shortAndLong, help: "Prompt text.")
    var prompt: String?

    @Option(help: "Prompt as token ids, e.g. 1,2,3 (for models without a tokenizer).")
    var ids: String?

    @Option(name: .short, help: "Tokens to generate.")
    var n: Int = 128

    @Option(name: .customLong("temp"), help: "Temperature; 0 is greedy.")
    var temperature: Float = 0.8

    @Option(name: .customLong("top-k"), help: "Sample from the k most likely tokens (0 = all).")
    var topK: Int = 40

    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass (1 = off).")
    var topP: Float = 0.95

    @Option(name: .customLong("repeat-penalty"), help: "Penalty for tokens among the last 64 (1 = off).")
    var repeatPenalty: Float = 1.0

    @Option(help: "Random seed (default: from the clock).")
    var seed: UInt64?

    @Flag(name: .customLong("ignore-eos"), help: "Keep generating after the end-of-sequence token.")
    var ignoreEOS = false

    @Option(name: .customLong("save-state"), help: "Save the whole state here at the end (with -n 0: right after the prompt).")
    var saveState: String?

    @Option(name: .customLong("load-state"), help: "Continue from a saved state; -p/--ids, if given, are appended to it.")
    var loadState: String?

    @OptionGroup var execution: ExecutionOptions

    func validate() throws {
        if prompt == nil && ids == nil && loadState == nil {
            throw ValidationError("give a prompt with -p TEXT, token ids with --ids, or a state with --load-state")
        }
        if prompt != nil && ids != nil { throw ValidationError("give either -p or --ids, not both") }
        if n < 0 { throw ValidationError("-n must be ≥ 0") }
        if !(temperature >= 0) { throw ValidationError("--temp must be ≥ 0") }
        if topK < 0 { throw ValidationError("--top-k must be ≥ 0") }
        if !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
        if !(repeatPenalty > 0) { throw ValidationError("--repeat-penalty must be > 0") }
    }

    func run() throws {
        let m = try Model(path: model.path)
        let tokens = try ids.map(parseIDs) ?? prompt.map { try m.encode($0, atStart: loadState == nil) } ?? []
        let session = Session(model: m, threads: execution.threads, chunk: execution.chunk, kvCache: execution.kvCache, context: execution.context)
        var settings = SamplerSettings()
        settings.temperature = temperature
        settings.topK = topK
        settings.topP = topP
        settings.repeatPenalty = repeatPenalty
        settings.seed = seed ?? UInt64(Date().timeIntervalSince1970 * 1e6)
        let sampler = Sampler(settings: settings, vocabSize: m.vocabSize)
        if let loadState {
            try StateFile.load(into: session, sampler: seed == nil ? sampler : nil, from: loadState)
        }
        for t in tokens { sampler.accept(t) }

        let t0 = DispatchTime.now().uptimeNanoseconds
        if !tokens.isEmpty { try session.prefill(tokens) }
        let t1 = DispatchTime.now().uptimeNanoseconds

        var decoder = m.tokenizer.map { StreamingDecoder(tokenizer: $0) }
        if let tok = m.tokenizer, ids == nil {
            Terminal.out(tok.decode(tokens, skippingSpecialTokens: true))
        }
        Terminal.flushOut()
        let eos = ignoreEOS ? nil : m.file.metadata.eosTokenID.map(Int32.init)
        var generated = 0
        var lastToken: Int32?
        for i in 0..<n {
            let next = sampler.sample(session.logits)
            sampler.accept(next)
            generated += 1
            lastToken = next
            if var d = decoder {
                Terminal.out(d.append(next))
                decoder = d
            } else {
                Terminal.out((i == 0 ? "" : " ") + String(next))
            }
            Terminal.flushOut()
            if next == eos { lastToken = nil; break }
            if i + 1 < n, let cap = session.capacity, session.position >= cap {
                Terminal.out("\n")
                Terminal.errLine("stopped: the context of \(cap) positions is full (rerun with a larger --ctx)")
                break
            }
            if i + 1 < n {
                try session.step(next)
                lastToken = nil
            }
        }
        if var d = decoder { Terminal.out(d.flush()) }
        Terminal.out("\n")
        Terminal.flushOut()
        if let saveState {
            // The last sampled token has not been fed yet: feed it so the state continues the text.
            if generated > 0, let last = lastToken { try session.step(last) }
            let sizes = try StateFile.save(session: session, sampler: sampler, to: saveState)
            Terminal.errLine("saved state to \(saveState): position \(session.position), \(formatBytes(sizes.raw)) raw, \(formatBytes(sizes.compressed)) compressed")
        }
        let t2 = DispatchTime.now().uptimeNanoseconds
        let pre = Double(t1 - t0) / 1e9, gen = Double(t2 - t1) / 1e9
        Terminal.errLine(String(
            format: "prompt: %d tokens in %.3f s (%.1f tok/s); generated: %d tokens in %.3f s (%.1f tok/s); threads %d",
            tokens.count, pre, Double(tokens.count) / max(pre, 1e-9), generated, gen, Double(generated) / max(gen, 1e-9),
            session.pool.threadCount))
    }
}

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the logits of every position as a float32 .npy file [n, vocab].",
        discussion: """
            The validation tool: compare its output with a reference implementation's.
              rill logits model.rill --ids 1,2,3 -o out.npy
              rill logits model.rill --text "In the beginning" --mode step -o out.npy
            --mode prefill runs the chunked prefill; --mode step feeds one token at a time.
            """)

    enum Mode: String, ExpressibleByArgument, CaseIterable { case prefill, step }

    @OptionGroup var model: ModelPath

    @Option(help: "Input token ids, e.g. 1,2,3.")
    var ids: String?

    @Option(help: "Input text (tokenised with the file's tokenizer).")
    var text: String?

    @Option(help: "prefill (chunked) or step (one token at a time).")
    var mode: Mode = .prefill

    @Option(name: .shortAndLong, help: "Output .npy file.")
    var output: String

    @Option(help: "Start the position counter here (tests positional robustness).")
    var startPosition: Int = 0

    @OptionGroup var execution: ExecutionOptions

    func validate() throws {
        if (ids == nil) == (text == nil) { throw ValidationError("give exactly one of --ids or --text") }
        if startPosition < 0 { throw ValidationError("--start-position must be ≥ 0") }
    }

    func run() throws {
        let m = try Model(path: model.path)
        let tokens = try ids.map(parseIDs) ?? m.encode(text!)
        guard !tokens.isEmpty else { throw ValidationError("the input has no tokens") }
        let session = Session(model: m, threads: execution.threads, chunk: execution.chunk, kvCache: execution.kvCache, context: execution.context)
        try session.validate(tokens)
        session.context.setPosition(startPosition)
        let writer = try NpyWriter(path: output, rows: tokens.count, cols: m.vocabSize)
        switch mode {
        case .prefill:
            try session.prefillAll(tokens) { _, row in try writer.append(row: row) }
        case .step:
            for t in tokens {
                try session.step(t)
                try writer.append(row: session.logits)
            }
        }
        try writer.finish()
        Terminal.errLine("wrote \(output): [\(tokens.count), \(m.vocabSize)] float32 (\(mode.rawValue))")
    }
}
