import RillFormat
import RillKernels

/// What the three models' contexts share around their layers: a decode step is a chunk of one
/// token, a prefill is ``chunkedPrefill(_:chunk:allLogits:logits:vocabSize:forward:head:emit:)``
/// over chunks, and the LM head reads the final-normed rows `xn` of the chunk.
protocol ChunkedContext: ModelContext {
    var chunk: Int { get }
    /// (T, d) the final-normed hidden rows ``forward(_:pool:)`` leaves.
    var xn: Buffer { get }
    /// (min(T, logitRows), V) logits of the head's last rows.
    var logits: Buffer { get }
    /// The one token of a decode step (allocated once: no allocation per step).
    var stepToken: UnsafeMutablePointer<Int32> { get }
    /// The LM head (V, d): the embedding when tied.
    var head: TensorView { get }
    var headWorkspace: Workspace { get }
    var vocabSize: Int { get }
    /// Runs the layers over up to `chunk` tokens and advances the position.
    func forward(_ tokens: UnsafeBufferPointer<Int32>, pool: ThreadPool)
}

extension ChunkedContext {
    // Every projection of a context, the head's included, runs on its one workspace.
    var activationStatistics: ActivationStatistics? {
        get { headWorkspace.statistics }
        set { headWorkspace.statistics = newValue }
    }

    var projectionWork: (multiplyAdds: Int, nanoseconds: UInt64) {
        (headWorkspace.gemmMultiplyAdds, headWorkspace.gemmNanoseconds)
    }

    func step(_ token: Int32, logits out: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        stepToken.pointee = token
        forward(UnsafeBufferPointer(start: stepToken, count: 1), pool: pool)
        lmHead(rows: 0..<1, pool: pool)
        out.update(from: logits.pointer, count: vocabSize)
    }

    func prefill(
        _ tokens: UnsafeBufferPointer<Int32>, allLogits: Bool, pool: ThreadPool,
        emit: (Int, UnsafePointer<Float>) -> Void
    ) {
        chunkedPrefill(
            tokens, chunk: chunk, allLogits: allLogits, logits: logits.pointer, vocabSize: vocabSize,
            forward: { forward($0, pool: pool) }, head: { lmHead(rows: $0, pool: pool) }, emit: emit)
    }

    /// Logits for the chunk rows `rows` of `xn` into the first rows of `logits`.
    func lmHead(rows: Range<Int>, pool: ThreadPool) {
        let d = head.cols
        if rows.count == 1 {
            matVec(head, xn.pointer + rows.lowerBound * d, logits.pointer, ws: headWorkspace, pool: pool)
        } else {
            gemmRows(head, a: xn.pointer + rows.lowerBound * d, lda: d, c: logits.pointer, ldc: vocabSize, t: rows.count, ws: headWorkspace, pool: pool)
        }
    }
}
