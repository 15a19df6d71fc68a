/// The sessions a server made at start, and the requests waiting for one.
///
/// A request takes a free slot at once, or waits in a queue of at most `queueLimit` requests,
/// or is refused (the server answers 503 with `Retry-After`). A waiting request that is
/// cancelled (its client went away) leaves the queue. Nothing here allocates per request but
/// the waiter's continuation.
actor SlotPool {
    private var free: [Int]
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Int, Error>)] = []
    private var nextWaiter: UInt64 = 0
    let queueLimit: Int
    let slotCount: Int

    init(slots: Int, queueLimit: Int) {
        free = Array((0..<slots).reversed())
        slotCount = slots
        self.queueLimit = queueLimit
    }

    /// Slots in use and requests waiting, for `/metrics` and `/health`.
    var busy: Int { slotCount - free.count }
    var queued: Int { waiters.count }

    enum Refusal: Error { case queueFull, cancelled }

    /// A slot index; throws ``Refusal/queueFull`` when the queue is full, `CancellationError`
    /// when the task is cancelled while waiting.
    func acquire() async throws -> Int {
        if let s = free.popLast() { return s }
        guard waiters.count < queueLimit else { throw Refusal.queueFull }
        nextWaiter += 1
        let id = nextWaiter
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { c in
                waiters.append((id, c))
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        guard let i = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: i).continuation.resume(throwing: CancellationError())
    }

    /// Gives the slot to the oldest waiter, or back to the free list.
    func release(_ slot: Int) {
        if waiters.isEmpty {
            free.append(slot)
        } else {
            waiters.removeFirst().continuation.resume(returning: slot)
        }
    }
}
