import Foundation

/// Perplexity of a model over a token sequence and, against a base model, the KL divergence
/// of its next-token distributions — what llama.cpp's `llama-perplexity --kl-divergence`
/// reports, measured the same way: the sequence is cut into chunks of `context` tokens, each
/// chunk starts from an empty state, and only the second half of each chunk is scored (the
/// first half gives the model context).
public struct PerplexityReport: Sendable {
    public var chunks: Int
    public var scoredTokens: Int
    /// exp(mean negative log-likelihood) of the scored tokens.
    public var perplexity: Double
    /// Base model's perplexity (when a base was given).
    public var basePerplexity: Double?
    /// Mean KL(base ‖ model) in nats over scored positions.
    public var meanKL: Double?
    /// 99th percentile of the per-position KL (from a fixed log-spaced histogram; bin width 2 %).
    public var p99KL: Double?
    /// Fraction of scored positions where both models' arg-max agree.
    public var argmaxAgreement: Double?
}

public enum Perplexity {
    /// Runs over `tokens`. `progress(chunk, chunks, perplexitySoFar)` is called after each chunk.
    /// Memory: one chunk of base logits (`session chunk × V` floats), fixed.
    public static func run(
        tokens: [Int32], model: Session, base: Session?, context: Int,
        progress: (Int, Int, Double) -> Void = { _, _, _ in }
    ) throws -> PerplexityReport {
        precondition(context >= 2)
        if let base, base.vocabSize != model.vocabSize {
            throw SessionError.tokenOutOfRange(id: Int64(base.vocabSize), vocabSize: model.vocabSize)
        }
        // Ids only: each chunk starts from an empty state, so only a chunk must fit a
        // reserved context.
        try model.validateIDs(tokens)
        let v = model.vocabSize
        let chunks = tokens.count / context
        var nll = 0.0, baseNLL = 0.0, klSum = 0.0
        var scored = 0, agree = 0
        var hist = LogHistogram()
        // Base logits of one prefill pass, kept until the model's pass of the same tokens.
        let pass = 64
        var baseRows = [Float](repeating: 0, count: pass * v)
        for c in 0..<chunks {
            model.reset()
            base?.reset()
            let chunk = Array(tokens[(c * context)..<((c + 1) * context)])
            var start = 0
            while start < context {
                let piece = Array(chunk[start..<min(context, start + pass)])
                if let base {
                    try baseRows.withUnsafeMutableBufferPointer { rows in
                        try base.prefillAll(piece) { i, row in (rows.baseAddress! + i * v).update(from: row, count: v) }
                    }
                }
                try baseRows.withUnsafeBufferPointer { rows in
                    try model.prefillAll(piece) { i, row in
                        let pos = start + i
                        // Row `pos` predicts token `pos + 1`; score the second half.
                        guard pos + 1 < context, pos + 1 >= context / 2 else { return }
                        let target = Int(chunk[pos + 1])
                        let lse = logSumExp(row, v)
                        nll += lse - Double(row[target])
                        scored += 1
                        if base != nil {
                            let b = rows.baseAddress! + i * v
                            let blse = logSumExp(b, v)
                            baseNLL += blse - Double(b[target])
                            let kl = klDivergence(base: b, baseLSE: blse, model: row, modelLSE: lse, v)
                            klSum += kl
                            hist.add(kl)
                            if argmax(b, v) == argmax(row, v) { agree += 1 }
                        }
                    }
                }
                start += piece.count
            }
            progress(c + 1, chunks, exp(nll / Double(max(scored, 1))))
        }
        guard scored > 0 else { throw SessionError.emptyInput }
        let n = Double(scored)
        return PerplexityReport(
            chunks: chunks, scoredTokens: scored, perplexity: exp(nll / n),
            basePerplexity: base == nil ? nil : exp(baseNLL / n), meanKL: base == nil ? nil : klSum / n,
            p99KL: base == nil ? nil : hist.quantile(0.99), argmaxAgreement: base == nil ? nil : Double(agree) / n)
    }
}

/// log Σ exp(x) in Double.
func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    var m = -Float.infinity
    for i in 0..<n { m = max(m, x[i]) }
    var s = 0.0
    for i in 0..<n { s += exp(Double(x[i] - m)) }
    return Double(m) + log(s)
}

/// KL(P ‖ Q) = Σ p (log p − log q) with P, Q the softmaxes of the two logit rows.
func klDivergence(base b: UnsafePointer<Float>, baseLSE: Double, model q: UnsafePointer<Float>, modelLSE: Double, _ n: Int) -> Double {
    var kl = 0.0
    for i in 0..<n {
        let lp = Double(b[i]) - baseLSE
        let lq = Double(q[i]) - modelLSE
        kl += exp(lp) * (lp - lq)
    }
    return max(0, kl)
}

/// A fixed-size histogram of non-negative values on a log scale (1e−10 … 1e3, 2 % bins), for
/// percentiles over any number of positions without storing them.
struct LogHistogram {
    static let low = 1e-10, high = 1e3
    static let ratio = 1.02
    static let bins = Int((log(high / low) / log(ratio)).rounded(.up)) + 2
    var counts = [Int](repeating: 0, count: LogHistogram.bins)
    var total = 0

    mutating func add(_ x: Double) {
        let i: Int
        if x <= Self.low { i = 0 } else if x >= Self.high { i = Self.bins - 1 } else {
            i = 1 + Int(log(x / Self.low) / log(Self.ratio))
        }
        counts[min(i, Self.bins - 1)] += 1
        total += 1
    }

    /// Upper edge of the bin holding the q-quantile.
    func quantile(_ q: Double) -> Double {
        let target = Int((q * Double(total)).rounded(.up))
        var acc = 0
        for (i, c) in counts.enumerated() {
            acc += c
            if acc >= target { return i == 0 ? Self.low : Self.low * pow(Self.ratio, Double(i)) }
        }
        return Self.high
    }
}
