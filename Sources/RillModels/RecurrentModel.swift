#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import RillFormat
import RillKernels

/// A model whose memory does not grow with the sequence: weights (mapped) plus a fixed state.
///
/// A model is immutable and shared; each ``ModelContext`` made from it owns one sequence's
/// state and scratch, so two contexts on one model can run in two threads.
public protocol RecurrentModel: AnyObject, Sendable {
    var config: ModelConfig { get }
    var vocabSize: Int { get }
    /// A fresh context (zero state at position 0) whose prefill processes up to `chunk` tokens
    /// per pass, with scratch for a pool of `threads` threads; attention K/V (SAMBA's rings)
    /// stored as `kvCache` (models without attention ignore it). A model whose attention keeps
    /// every position (SUBLLM, LLaMA) reserves its keys and values for `context` positions,
    /// default ``defaultContext``; the recurrent ones ignore it.
    func makeContext(chunk: Int, threads: Int, kvCache: KVCacheType, context: Int?) -> ModelContext
    /// The context a session reserves by default; nil for models whose state does not grow
    /// with the sequence.
    var defaultContext: Int? { get }
    /// The K/V storage a context gets unless told otherwise (see ``KVCacheType``).
    var defaultKVCache: KVCacheType { get }
    /// Bytes of weights one decoded token reads (see ``weightBytesReadPerToken(_:untiedEmbedding:)``).
    var weightBytesPerToken: Int { get }
}

/// Bytes of weights one decoded token reads: every tensor of the file once — the matrices and
/// the f32 vectors alike (Mamba-130M's A alone is 2.4 MB) — except an embedding table that is
/// not also the LM head, of which a token reads one row (not counted).
func weightBytesReadPerToken(_ file: RillFile, untiedEmbedding: String?) -> Int {
    file.tensors.reduce(0) { $0 + ($1.name == untiedEmbedding ? 0 : Int($1.length)) }
}

/// One sequence's recurrent state and scratch. Nothing in it grows with the number of tokens.
public protocol ModelContext: AnyObject {
    /// Tokens consumed so far.
    var position: Int { get }
    /// Bytes of recurrent state (what a state file must hold).
    var stateBytes: Int { get }
    /// Bytes of state the next decode step reads (and writes back): all of it for Mamba and
    /// TransNormerLLM; for SAMBA the Mamba states and the K/V of the positions in the window.
    var stateBytesReadPerStep: Int { get }
    /// Back to the empty sequence.
    func reset()
    /// Consumes one token and writes the next-token logits (`vocabSize` floats).
    func step(_ token: Int32, logits: UnsafeMutablePointer<Float>, pool: ThreadPool)
    /// Consumes `tokens` in chunks; after each chunk calls `emit(row, logits)` for every
    /// position whose logits are wanted (all positions when `allLogits`, else only the last).
    func prefill(
        _ tokens: UnsafeBufferPointer<Int32>, allLogits: Bool, pool: ThreadPool,
        emit: (Int, UnsafePointer<Float>) -> Void)
    /// The state as flat arrays, in a fixed order (for state files).
    func stateBuffers() -> [StateBuffer]
    /// Sets the position counter (after restoring state, or to test far positions).
    func setPosition(_ p: Int)
    /// Positions the context holds at most (its reserved keys and values); nil when the state
    /// does not grow with the sequence.
    var capacity: Int? { get }
    /// SUBLLM: how many brackets deep the last token of the last forward pass went (0: its
    /// outermost bracket dropped it); nil for models without brackets.
    var lastTokenDepth: Int? { get }
    /// While set, every projection's input is added to it (`rill convert --calibrate`).
    var activationStatistics: ActivationStatistics? { get set }
    /// Multiply-adds the multi-token projections (the prefill's GEMMs, dequantised tiles and
    /// sgemm) have done since the context was made, and the wall time they took.
    var projectionWork: (multiplyAdds: Int, nanoseconds: UInt64) { get }
}

extension ModelContext {
    public var capacity: Int? { nil }
    public var lastTokenDepth: Int? { nil }
}

extension RecurrentModel {
    public var defaultContext: Int? { nil }
}

/// An f32 vector read from a file: a pointer into the mapping when stored as f32, else a
/// dequantised copy owned here (when a user override stored a small tensor quantised).
public final class FloatTensor: @unchecked Sendable {
    public let pointer: UnsafePointer<Float>
    public let count: Int
    private let owned: UnsafeMutablePointer<Float>?

    public init(_ view: TensorView) {
        count = view.rows * view.cols
        if view.type == .f32 {
            pointer = view.f32
            owned = nil
        } else {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            for r in 0..<view.rows {
                view.dequantizeRow(r, into: UnsafeMutableBufferPointer(start: p + r * view.cols, count: view.cols))
            }
            pointer = UnsafePointer(p)
            owned = p
        }
    }

    deinit { owned?.deallocate() }

    public static func load(_ file: RillFile, _ name: String, shape: [Int]) throws(RillFileError) -> FloatTensor {
        let t = FloatTensor(try file.tensor(name, shape: shape))
        for i in 0..<t.count where !t.pointer[i].isFinite {
            throw .invalidField(path: file.path, field: "tensor '\(name)'[\(i)]", expected: "finite values", found: "\(t.pointer[i])")
        }
        return t
    }
}

/// A zeroed f32 buffer allocated once (state or scratch).
public final class Buffer {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(_ count: Int) {
        self.count = count
        // calloc: large blocks come from mmap already zero, and a page becomes resident only
        // when first written. Buffers sized for the largest chunk (or for 16 rows of logits)
        // cost no memory for the rows a run never uses: decode touches one row of each.
        guard let p = calloc(max(count, 1), MemoryLayout<Float>.stride) else {
            fatalError("out of memory allocating \(count) floats")
        }
        pointer = p.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { free(pointer) }

    public func zero() { pointer.update(repeating: 0, count: count) }
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public subscript(i: Int) -> UnsafeMutablePointer<Float> { pointer + i }
}

/// The chunk loop of every model's prefill: `forward` consumes up to `chunk` tokens at a time;
/// `head(rows)` writes the logits of those rows of the chunk to `logits` (row 0 first), at most
/// ``logitRows`` rows at a time, so the logits buffer does not grow with the chunk. `emit` gets
/// every position when `allLogits`, else only the last.
func chunkedPrefill(
    _ tokens: UnsafeBufferPointer<Int32>, chunk: Int, allLogits: Bool, logits: UnsafePointer<Float>, vocabSize v: Int,
    forward: (UnsafeBufferPointer<Int32>) -> Void, head: (Range<Int>) -> Void,
    emit: (Int, UnsafePointer<Float>) -> Void
) {
    var start = 0
    while start < tokens.count {
        let t = min(chunk, tokens.count - start)
        forward(UnsafeBufferPointer(rebasing: tokens[start..<(start + t)]))
        if allLogits {
            var r = 0
            while r < t {
                let n = min(logitRows, t - r)
                head(r..<(r + n))
                for i in 0..<n { emit(start + r + i, logits + i * v) }
                r += n
            }
        } else if start + t == tokens.count {
            head((t - 1)..<t)
            emit(start + t - 1, logits)
        }
        start += t
    }
}
