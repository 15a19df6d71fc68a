import ArgumentParser
import Foundation
import RillFormat
import RillModels
import RillRuntime

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure open time, prefill speed, time to first token, per-token decode latency and memory.",
        discussion: """
            Runs a random prompt of --prompt tokens (chunked prefill), then --gen decode steps, and \
            reports latency percentiles, peak resident memory, the bytes each decoded token reads \
            (every weight tensor once, and the recurrent state it updates), the machine's read \
            bandwidth (measured here, same threads) and the fraction of it decode achieves: \
            (weight + state bytes per token) × tokens/s ÷ probe. The probe's passes are interleaved \
            with a second --gen decode tokens, so decode is compared with the bandwidth of the same \
            seconds (a shared host's moves); the best single pass is shown beside it. The compute \
            roofline: the prefill's multi-token projections (GEMMs) in GFLOP/s, against the \
            cores' peak f32 multiply-add rate measured here (prefill_compute_ratio), with the \
            int8 dot-product peak beside it. Use a release build.
              rill bench model.rill --prompt 512 --gen 128 --threads 2
              rill bench model.rill --json
            """)

    @OptionGroup var model: ModelPath

    @Option(help: "Prompt tokens for the prefill measurement.")
    var prompt: Int = 512

    @Option(help: "Tokens to decode.")
    var gen: Int = 128

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(name: .customLong("no-probe"), help: "Skip the bandwidth and compute-peak probes.")
    var noProbe = false

    @Option(help: "Long run: process this many tokens (chunked prefill) with decode probes at log-spaced positions.")
    var long: Int?

    @Option(help: "With --long: write an SVG plot of latency and RSS against position (and FILE.csv).")
    var plot: String?

    @OptionGroup var execution: ExecutionOptions

    func validate() throws {
        if prompt < 1 { throw ValidationError("--prompt must be ≥ 1") }
        if gen < 1 { throw ValidationError("--gen must be ≥ 1") }
    }

    func run() throws {
        if let long {
            try LongRun(path: model.path, tokens: long, plot: plot, execution: execution).run()
            return
        }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let m = try Model(path: model.path)
        let openMs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        // A model with a growing cache reserves what this run needs (the timed decode and the
        // paired one) unless --ctx says otherwise.
        let needed = prompt + 2 * gen + 1
        let session = Session(
            model: m, threads: execution.threads, chunk: execution.chunk, kvCache: execution.kvCache,
            context: execution.context ?? m.network.defaultContext.map { max($0, needed) })
        var rng = SplitMix64(seed: 42)
        let ids = (0..<prompt).map { _ in Int32(truncatingIfNeeded: rng.next() % UInt64(m.vocabSize)) }

        let work0 = session.context.projectionWork
        let p0 = DispatchTime.now().uptimeNanoseconds
        try session.prefill(ids)
        var token = argmax(session.logits, m.vocabSize)
        let p1 = DispatchTime.now().uptimeNanoseconds
        let prefillS = Double(p1 - p0) / 1e9
        let work1 = session.context.projectionWork
        let gemmMACs = work1.multiplyAdds - work0.multiplyAdds, gemmNs = work1.nanoseconds - work0.nanoseconds

        // SAMBA reads more of its K/V windows as they fill: the mean over the decoded tokens.
        let stateReadBefore = session.stateBytesReadPerStep
        var lat = [Double](repeating: 0, count: gen)
        var depth = [Int](repeating: 0, count: gen)
        for i in 0..<gen {
            let s0 = DispatchTime.now().uptimeNanoseconds
            try session.step(token)
            token = argmax(session.logits, m.vocabSize)
            lat[i] = Double(DispatchTime.now().uptimeNanoseconds - s0) / 1e6
            depth[i] = session.context.lastTokenDepth ?? -1
        }
        // SUBLLM: a token a bracket drops skips the blocks inside it, so latency depends on how
        // deep each token went.
        let byDepth: [BenchResult.DepthLatency]? = session.context.lastTokenDepth == nil ? nil
            : Set(depth).sorted().map { dp in
                let l = zip(lat, depth).filter { $0.1 == dp }.map(\.0).sorted()
                return .init(depth: dp, tokens: l.count, p50: l[l.count / 2], p99: l[min(l.count - 1, Int(0.99 * Double(l.count)))])
            }
        let sorted = lat.sorted()
        func pct(_ p: Double) -> Double { sorted[min(sorted.count - 1, Int((p / 100) * Double(sorted.count)))] }
        let decodeTokS = Double(gen) / (lat.reduce(0, +) / 1000)
        // Memory is read before the probe, whose 256 MiB buffer is not the model's.
        let peakRSS = ResidentMemory.peakBytes() ?? 0
        let resident = ResidentMemory.current()
        let wbytes = m.network.weightBytesPerToken
        let sbytes = (stateReadBefore + session.stateBytesReadPerStep) / 2
        let paired = noProbe ? nil : try PairedBandwidth.measure(
            session: session, token: &token, tokens: gen, weightBytesPerToken: wbytes)
        let best = paired?.bestGBs ?? 0
        let peak = noProbe ? nil : ComputePeak.measure(pool: session.pool)
        let gemmGFlops = gemmNs > 0 ? 2 * Double(gemmMACs) / Double(gemmNs) : 0
        let r = BenchResult(
            model: model.path, architecture: m.config.architecture, threads: session.pool.threadCount,
            promptTokens: prompt, genTokens: gen, openMs: openMs, prefillTokS: Double(prompt) / prefillS,
            ttftMs: prefillS * 1000, decodeMsP50: pct(50), decodeMsP90: pct(90), decodeMsP99: pct(99),
            decodeTokS: decodeTokS, peakRSSBytes: peakRSS,
            residentFileBytes: resident?.fileBytes ?? 0, residentAnonBytes: resident?.anonymousBytes ?? 0,
            stateBytes: session.stateBytes, kvCache: session.kvCache.rawValue, weightBytesPerToken: wbytes, stateBytesReadPerToken: sbytes,
            bandwidthGBs: paired?.duringDecodeGBs ?? 0, bandwidthRatio: paired?.ratio ?? 0,
            pairedDecodeTokS: paired?.decodeTokS ?? 0, bandwidthBestGBs: best,
            bandwidthRatioBest: best > 0 ? Double(wbytes + sbytes) * decodeTokS / 1e9 / best : 0,
            fileBytes: Int(m.file.header.fileSize), context: session.capacity, decodeByDepth: byDepth,
            kvBytesPerTokenByLevel: kvLevels(m, session.kvCache), kvReservedBytes: session.capacity == nil ? nil : session.stateBytes,
            prefillProjectionGFlops: gemmGFlops, prefillProjectionShare: prefillS > 0 ? Double(gemmNs) / 1e9 / prefillS : 0,
            computePeak: peak, prefillComputeRatio: peak.map { $0.f32GFlops > 0 ? gemmGFlops / $0.f32GFlops : 0 })
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            Terminal.out(String(decoding: try enc.encode(r), as: UTF8.self) + "\n")
        } else {
            Terminal.out(r.table)
        }
    }
}

/// SUBLLM/LLaMA: the K/V bytes one token adds to the blocks of each level (every token, then
/// each bracket in `(` order); nil for the other architectures.
func kvLevels(_ m: Model, _ kv: KVCacheType) -> [Int]? {
    guard let s = m.network as? SubllmModel else { return nil }
    return s.layersPerLevel.map { $0.layers * s.kvBytesPerPosition(kv) }
}

struct BenchResult: Encodable {
    let model: String, architecture: String, threads: Int, promptTokens: Int, genTokens: Int
    let openMs: Double, prefillTokS: Double, ttftMs: Double
    let decodeMsP50: Double, decodeMsP90: Double, decodeMsP99: Double, decodeTokS: Double
    let peakRSSBytes: Int, residentFileBytes: Int, residentAnonBytes: Int
    let stateBytes: Int, kvCache: String, weightBytesPerToken: Int, stateBytesReadPerToken: Int
    let bandwidthGBs: Double, bandwidthRatio: Double
    let pairedDecodeTokS: Double, bandwidthBestGBs: Double, bandwidthRatioBest: Double
    let fileBytes: Int
    /// SUBLLM/LLaMA: positions reserved, latency by the depth a decoded token reached, the
    /// K/V bytes a token adds at each level (every token; then per bracket, a token it keeps)
    /// and the bytes reserved.
    let context: Int?
    struct DepthLatency: Encodable {
        let depth: Int, tokens: Int, p50: Double, p99: Double
        enum CodingKeys: String, CodingKey { case depth, tokens, p50 = "ms_p50", p99 = "ms_p99" }
    }
    let decodeByDepth: [DepthLatency]?
    let kvBytesPerTokenByLevel: [Int]?
    let kvReservedBytes: Int?
    /// The prefill's multi-token projections: their rate in GFLOP/s (2 per multiply-add) and
    /// their share of the prefill's time; the cores' peak, and the rate as a fraction of the
    /// f32 peak (the projections run as f32 sgemm on dequantised tiles).
    let prefillProjectionGFlops: Double, prefillProjectionShare: Double
    let computePeak: ComputePeak?
    let prefillComputeRatio: Double?

    enum CodingKeys: String, CodingKey {
        case model, architecture, threads, promptTokens = "prompt_tokens", genTokens = "gen_tokens"
        case openMs = "open_ms", prefillTokS = "prefill_tok_s", ttftMs = "ttft_ms"
        case decodeMsP50 = "decode_ms_p50", decodeMsP90 = "decode_ms_p90", decodeMsP99 = "decode_ms_p99"
        case decodeTokS = "decode_tok_s", peakRSSBytes = "peak_rss_bytes", residentFileBytes = "resident_file_bytes"
        case residentAnonBytes = "resident_anon_bytes", stateBytes = "state_bytes", kvCache = "kv_cache"
        case weightBytesPerToken = "weight_bytes_per_token", stateBytesReadPerToken = "state_bytes_read_per_token"
        case bandwidthGBs = "bandwidth_gb_s"
        case bandwidthRatio = "bandwidth_ratio", pairedDecodeTokS = "paired_decode_tok_s"
        case bandwidthBestGBs = "bandwidth_best_gb_s", bandwidthRatioBest = "bandwidth_ratio_best"
        case fileBytes = "file_bytes", context = "ctx", decodeByDepth = "decode_by_depth"
        case kvBytesPerTokenByLevel = "kv_bytes_per_token_by_level", kvReservedBytes = "kv_reserved_bytes"
        case prefillProjectionGFlops = "prefill_projection_gflop_s", prefillProjectionShare = "prefill_projection_share"
        case computePeak = "compute_peak", prefillComputeRatio = "prefill_compute_ratio"
    }

    var table: String {
        func f(_ v: Double, _ d: Int = 2) -> String { String(format: "%.\(d)f", v) }
        return """
            model              \(model) (\(architecture), \(formatBytes(fileBytes)))
            threads            \(threads)
            open               \(f(openMs)) ms
            prefill            \(promptTokens) tokens, \(f(prefillTokS, 1)) tok/s
            time to 1st token  \(f(ttftMs)) ms
            decode             \(genTokens) tokens, \(f(decodeTokS, 1)) tok/s
            decode latency     p50 \(f(decodeMsP50, 3)) ms, p90 \(f(decodeMsP90, 3)) ms, p99 \(f(decodeMsP99, 3)) ms
            peak RSS           \(formatBytes(peakRSSBytes)) (now: mapped weights \(formatBytes(residentFileBytes)), anonymous \(formatBytes(residentAnonBytes)))
            state              \(formatBytes(stateBytes))\(architecture == "samba" ? " (K/V rings \(kvCache))" : "")
            read per token     weights \(formatBytes(weightBytesPerToken)), state \(formatBytes(stateBytesReadPerToken))
            read bandwidth     \(bandwidthGBs > 0 ? f(bandwidthGBs) + " GB/s while decoding (probe passes between \(f(pairedDecodeTokS, 1)) tok/s decode segments); best pass " + f(bandwidthBestGBs) + " GB/s" : "not measured")
            achieved / probe   \(bandwidthGBs > 0 ? f(bandwidthRatio * 100, 1) + " % of the bandwidth while decoding; " + f(bandwidthRatioBest * 100, 1) + " % of the best pass" : "-")
            prefill GEMMs      \(prefillProjectionGFlops > 0 ? f(prefillProjectionGFlops, 1) + " GFLOP/s, " + f(prefillProjectionShare * 100, 1) + " % of the prefill's time" : "- (a one-token prompt runs mat-vecs)")
            compute peak       \(computePeak.map { f($0.f32GFlops, 1) + " GFLOP/s f32 FMA, " + f($0.int8GOps, 1) + " GOP/s int8 dot (" + $0.isa + ", \($0.threads) threads)" } ?? "not measured")
            compute ratio      \(prefillComputeRatio.map { f($0 * 100, 1) + " % of the f32 peak in the prefill's GEMMs" } ?? "-")

            """ + attentionLines
    }

    private var attentionLines: String {
        guard let context, let kvReservedBytes, let levels = kvBytesPerTokenByLevel else { return "" }
        var s = "context            \(context) positions, keys and values reserved \(formatBytes(kvReservedBytes))\n"
        s += "K/V per token      " + levels.enumerated().map { $0 == 0 ? "every token \(formatBytes($1))" : "bracket \($0 - 1) \(formatBytes($1))" }.joined(separator: ", ") + "\n"
        for d in decodeByDepth ?? [] {
            s += "decode at depth \(d.depth)  \(d.tokens) tokens, p50 \(String(format: "%.3f", d.p50)) ms, p99 \(String(format: "%.3f", d.p99)) ms\n"
        }
        return s
    }
}

