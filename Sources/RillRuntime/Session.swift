import RillFormat
import RillKernels
import RillModels

/// One sequence being processed: the model's recurrent state, scratch, a thread pool and the
/// next-token logits. Memory is allocated when the session is made and never grows.
///
/// A session is not thread-safe; use one per thread (they may share a ``Model``).
public final class Session {
    public let model: Model
    public let context: ModelContext
    public let pool: ThreadPool
    /// Next-token logits after the last ``prefill(_:)`` or ``step(_:)`` (`vocabSize` floats).
    public let logits: UnsafeMutablePointer<Float>

    /// How attention keys and values are stored (SAMBA's rings).
    public let kvCache: KVCacheType

    /// - Parameters:
    ///   - threads: worker threads for the kernels (default: the machine's cores).
    ///   - chunk: tokens per prefill pass (memory for the chunk is allocated once).
    ///   - kvCache: K/V storage (default: the model's, ``RecurrentModel/defaultKVCache``).
    ///   - context: positions to reserve keys and values for, for models whose attention
    ///     keeps every position (SUBLLM, LLaMA; default: the positions the model was trained
    ///     for). Reaching it is ``SessionError/contextFull(capacity:position:adding:)``.
    ///     Recurrent models ignore it.
    public init(model: Model, threads: Int? = nil, chunk: Int = 128, kvCache: KVCacheType? = nil, context: Int? = nil) {
        self.model = model
        pool = ThreadPool(threadCount: threads ?? ThreadPool.defaultThreadCount)
        // The prefill GEMMs split their rows over the pool, each slab one single-threaded
        // sgemm: OpenBLAS's own threads would compete with the pool's for the cores.
        setBLASThreadCount(1)
        self.kvCache = kvCache ?? model.network.defaultKVCache
        self.context = model.network.makeContext(chunk: chunk, threads: pool.threadCount, kvCache: self.kvCache, context: context)
        logits = .allocate(capacity: model.vocabSize)
        logits.initialize(repeating: 0, count: model.vocabSize)
    }

    deinit { logits.deallocate() }


    /// Tokens consumed so far.
    public var position: Int { context.position }

    public var vocabSize: Int { model.vocabSize }

    /// Forgets the sequence (state to zero, position 0).
    public func reset() { context.reset() }

    /// Positions the session holds at most (nil: unbounded, the state does not grow).
    public var capacity: Int? { context.capacity }

    /// Checks ids before they reach a kernel, and that they fit in the reserved context.
    public func validate(_ tokens: [Int32]) throws {
        try validateIDs(tokens)
        try checkRoom(tokens.count)
    }

    /// Checks ids only: for a sequence consumed in pieces with resets between them.
    public func validateIDs(_ tokens: [Int32]) throws {
        for t in tokens where t < 0 || Int(t) >= vocabSize {
            throw SessionError.tokenOutOfRange(id: Int64(t), vocabSize: vocabSize)
        }
    }

    private func checkRoom(_ n: Int) throws {
        if let cap = context.capacity, position + n > cap {
            throw SessionError.contextFull(capacity: cap, position: position, adding: n)
        }
    }

    /// Consumes `tokens` (chunked), leaving the last position's logits in ``logits``.
    public func prefill(_ tokens: [Int32]) throws {
        guard !tokens.isEmpty else { throw SessionError.emptyInput }
        try validate(tokens)
        let v = vocabSize
        tokens.withUnsafeBufferPointer { buf in
            context.prefill(buf, allLogits: false, pool: pool) { _, row in logits.update(from: row, count: v) }
        }
    }

    /// Consumes `tokens` and hands the logits of every position to `row` (position, logits).
    public func prefillAll(_ tokens: [Int32], row: (Int, UnsafePointer<Float>) throws -> Void) throws {
        guard !tokens.isEmpty else { throw SessionError.emptyInput }
        try validate(tokens)
        var failure: Error?
        let v = vocabSize
        tokens.withUnsafeBufferPointer { buf in
            context.prefill(buf, allLogits: true, pool: pool) { i, r in
                guard failure == nil else { return }
                do { try row(i, r) } catch { failure = error }
                logits.update(from: r, count: v)
            }
        }
        if let failure { throw failure }
    }

    /// Consumes one token, leaving the next-token logits in ``logits``.
    public func step(_ token: Int32) throws {
        guard token >= 0 && Int(token) < vocabSize else {
            throw SessionError.tokenOutOfRange(id: Int64(token), vocabSize: vocabSize)
        }
        try checkRoom(1)
        context.step(token, logits: logits, pool: pool)
    }

    /// What a state file holds: the model's state buffers, then the next-token logits (so a
    /// restored session can sample without re-running the last token).
    var savedBuffers: [StateBuffer] {
        context.stateBuffers() + [.f32(UnsafeMutableBufferPointer(start: logits, count: vocabSize))]
    }

    /// Bytes of recurrent state.
    public var stateBytes: Int { context.stateBytes }

    /// Bytes of state the next decode step reads (and writes back).
    public var stateBytesReadPerStep: Int { context.stateBytesReadPerStep }
}
