import RillModels

/// The statistics `rill convert --calibrate` steers int4k with: each projection's mean square
/// input per column (llama.cpp's importance matrix), measured while the float model runs over
/// a text.
public enum Calibration {
    public struct Result {
        /// Per tensor name, one mean square per input column.
        public var importance: [String: [Float]]
        /// Tokens run, and the chunks they were cut into.
        public var tokens: Int
        public var chunks: Int
    }

    /// Runs `session` over `tokens` cut into chunks of `context` tokens, each from an empty
    /// state as `rill perplexity` cuts them (a final piece shorter than a quarter chunk is
    /// left out: it would weigh the first positions twice). `progress(chunk, chunks)` after
    /// each chunk.
    public static func collect(
        session: Session, tokens: [Int32], context: Int, progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> Result {
        precondition(context >= 2)
        try session.validateIDs(tokens)
        var pieces: [Range<Int>] = stride(from: 0, to: tokens.count, by: context).map { $0..<min($0 + context, tokens.count) }
        if let last = pieces.last, pieces.count > 1, last.count < context / 4 { pieces.removeLast() }
        guard let first = pieces.first, first.count >= 2 else { throw CalibrationError.textTooShort(tokens: tokens.count) }
        let statistics = ActivationStatistics()
        session.context.activationStatistics = statistics
        defer { session.context.activationStatistics = nil }
        for (i, r) in pieces.enumerated() {
            session.reset()
            // Every position's logits, so that the LM head sees every row too.
            try session.prefillAll(Array(tokens[r])) { _, _ in }
            progress(i + 1, pieces.count)
        }
        return Result(importance: statistics.meanSquares, tokens: pieces.reduce(0) { $0 + $1.count }, chunks: pieces.count)
    }
}

public enum CalibrationError: Error, CustomStringConvertible, Equatable {
    case textTooShort(tokens: Int)

    public var description: String {
        switch self {
        case let .textTooShort(n): return "the calibration text is \(n) token(s): at least 2 are needed, and thousands are better"
        }
    }
}
