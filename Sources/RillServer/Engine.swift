import Dispatch
import Foundation
import RillRuntime
import RillTokenizer

/// One generation a client asked for, in tokens.
struct GenerationRequest: Sendable {
    let prompt: [Int32]
    let maxTokens: Int
    let sampling: SamplerSettings
    let stop: [String]
    /// Keep generating past the end-of-text token (llama-server's `ignore_eos`).
    let ignoreEOS: Bool
    /// Polled between tokens: true once the client has gone (disconnected, or the request's
    /// task was cancelled); the generation then stops and the slot is freed.
    let isCancelled: @Sendable () -> Bool
}

/// What a generation produces, in order: `started` once the prompt is read, `text` pieces,
/// then `finished`.
enum GenerationEvent: Sendable {
    case started(promptTokens: Int, cachedTokens: Int)
    case text(String)
    case finished(FinishReason, completionTokens: Int)
}

/// The model, the slots (one ``Session`` each, made at start) and the snapshot cache; runs each
/// generation on its slot's own thread so that the event loops never compute.
final class Engine: @unchecked Sendable {
    let model: Model
    let modelName: String
    let cache: SnapshotCache
    let pool: SlotPool
    let metrics: ServerMetrics
    private let slots: [Slot]
    let context: Int?

    /// A session and the tokens its state holds now (so a follow-up on the same slot needs no
    /// restore at all), with a serial queue of its own.
    final class Slot: @unchecked Sendable {
        let session: Session
        var tokens: [Int32] = []
        let queue: DispatchQueue
        init(session: Session, index: Int) {
            self.session = session
            queue = DispatchQueue(label: "rill.slot.\(index)", qos: .userInitiated)
        }
    }

    init(model: Model, modelName: String, slots: Int, threadsPerSlot: Int, chunk: Int, context: Int?, queueLimit: Int,
         cacheBytes: Int, metrics: ServerMetrics) {
        self.model = model
        self.modelName = modelName
        self.slots = (0..<slots).map { Slot(session: Session(model: model, threads: threadsPerSlot, chunk: chunk, context: context), index: $0) }
        self.context = self.slots.first?.session.capacity
        cache = SnapshotCache(budgetBytes: cacheBytes)
        pool = SlotPool(slots: slots, queueLimit: queueLimit)
        self.metrics = metrics
    }

    /// Bytes one slot's state takes (the recurrent state, or the reserved keys and values).
    var stateBytesPerSlot: Int { slots.first?.session.stateBytes ?? 0 }
    /// Bytes one snapshot takes.
    var snapshotBytes: Int { slots.first?.session.snapshotBytes ?? 0 }
    var slotCount: Int { slots.count }

    /// Runs `request` on a free slot (waiting in the queue if needed), streaming its events.
    /// Throws ``APIError/busy(retryAfter:)`` when the queue is full.
    func generate(_ request: GenerationRequest) async throws -> AsyncThrowingStream<GenerationEvent, Error> {
        let index: Int
        do {
            index = try await pool.acquire()
        } catch SlotPool.Refusal.queueFull {
            metrics.rejected.increment()
            throw APIError.busy(retryAfter: 1)
        }
        let slot = slots[index]
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, Error>.makeStream(bufferingPolicy: .unbounded)
        metrics.busySlots.increment()
        slot.queue.async {
            do {
                try self.run(request, on: slot) { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
            Task {
                self.metrics.busySlots.decrement()
                await self.pool.release(index)
            }
        }
        return stream
    }

    /// The generation itself, on the slot's thread.
    private func run(_ r: GenerationRequest, on slot: Slot, emit: (GenerationEvent) -> Void) throws {
        let session = slot.session
        let start = DispatchTime.now().uptimeNanoseconds
        // Where to start: the slot's live state if it is a prefix of the prompt, else the
        // longest cached prefix, else an empty session.
        let live = slot.tokens.count <= r.prompt.count && slot.tokens.elementsEqual(r.prompt.prefix(slot.tokens.count)) ? slot.tokens.count : -1
        var cached = 0
        if let snap = cache.longestPrefix(of: r.prompt), snap.tokens.count > max(live, 0), session.restore(snap) {
            cached = snap.tokens.count
        } else if live > 0 {
            cached = live
        } else {
            session.reset()
        }
        if cached > 0 { metrics.cacheHits.increment() } else { metrics.cacheMisses.increment() }
        slot.tokens = Array(r.prompt.prefix(cached))
        if cached < r.prompt.count {
            try session.prefill(Array(r.prompt[cached...]))
            slot.tokens = r.prompt
            cache.insert(session.snapshot(tokens: slot.tokens))
        }
        metrics.promptTokens.increment(by: Int64(r.prompt.count - cached))
        metrics.timeToFirstToken.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
        emit(.started(promptTokens: r.prompt.count, cachedTokens: cached))

        let sampler = Sampler(settings: r.sampling, vocabSize: model.vocabSize)
        var decoder = model.tokenizer.map { StreamingDecoder(tokenizer: $0, skippingSpecialTokens: true) }
        var stops = StopMatcher(r.stop)
        let eos = model.file.metadata.eosTokenID.map(Int32.init)
        var generated = 0
        var reason = FinishReason.length
        var pendingToken: Int32?
        while generated < r.maxTokens {
            if r.isCancelled() { return }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let token = sampler.sample(session.logits)
            sampler.accept(token)
            generated += 1
            pendingToken = token
            if token == eos && !r.ignoreEOS { reason = .stop; break }
            var piece = ""
            if var d = decoder {
                piece = d.append(token)
                decoder = d
            }
            let (out, hit) = stops.feed(piece)
            if !out.isEmpty { emit(.text(out)) }
            if hit { reason = .stop; break }
            if generated == r.maxTokens { break }
            if let cap = session.capacity, session.position >= cap { break }
            try session.step(token)
            slot.tokens.append(token)
            pendingToken = nil
            metrics.tokenLatency.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - t0))
        }
        if reason == .length {
            // Bytes of a character split across tokens, and text held back for a stop
            // sequence that never completed, belong to the reply.
            if var d = decoder {
                let (out, _) = stops.feed(d.flush())
                if !out.isEmpty { emit(.text(out)) }
            }
            let tail = stops.flush()
            if !tail.isEmpty { emit(.text(tail)) }
        }
        metrics.completionTokens.increment(by: Int64(generated))
        emit(.finished(reason, completionTokens: generated))
        // The state after the reply, for the next turn: feed the last sampled token (the
        // template's end of turn when the model stopped on its own) and keep a snapshot.
        if let t = pendingToken, !r.isCancelled(), session.capacity.map({ session.position < $0 }) ?? true {
            try session.step(t)
            slot.tokens.append(t)
            cache.insert(session.snapshot(tokens: slot.tokens))
        }
    }
}

/// Holds back text that may be the start of a stop sequence, and cuts the output where one
/// completes (the stop sequence itself is not returned, as OpenAI does).
struct StopMatcher {
    let stops: [String]
    private var pending = ""

    init(_ stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// The text that can be sent now, and whether a stop sequence completed.
    mutating func feed(_ piece: String) -> (String, Bool) {
        guard !stops.isEmpty else { return (piece, false) }
        pending += piece
        for s in stops {
            if let r = pending.range(of: s) {
                let out = String(pending[..<r.lowerBound])
                pending = ""
                return (out, true)
            }
        }
        // Keep the longest suffix that is a prefix of some stop sequence.
        var keep = 0
        for s in stops {
            for k in stride(from: min(s.count - 1, pending.count), to: 0, by: -1) where pending.hasSuffix(String(s.prefix(k))) {
                keep = max(keep, k)
                break
            }
        }
        let out = String(pending.dropLast(keep))
        pending = String(pending.suffix(keep))
        return (out, false)
    }

    mutating func flush() -> String {
        defer { pending = "" }
        return pending
    }
}
