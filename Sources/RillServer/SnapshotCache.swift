import Foundation
import RillRuntime

/// Session states at turn boundaries, least recently used evicted first, bounded in bytes.
///
/// A recurrent state cannot be rolled back, so a conversation's next turn can continue from
/// the state at the end of the previous one only if that state was kept. The server keeps one
/// after each prompt and each reply, keyed by the exact tokens that produced it; a request
/// whose tokens *begin with* a cached entry's tokens (checked token by token) restores it and
/// reads only the rest. Entries never exceed `budget` bytes in total; an entry larger than the
/// budget is not kept.
final class SnapshotCache: @unchecked Sendable {
    let budget: Int
    private let lock = NSLock()
    private var entries: [Entry] = []
    private var clock: UInt64 = 0
    private(set) var bytes = 0

    private struct Entry {
        let snapshot: SessionSnapshot
        var lastUse: UInt64
    }

    init(budgetBytes: Int) { budget = max(0, budgetBytes) }

    var count: Int { lock.withLock { entries.count } }
    var usedBytes: Int { lock.withLock { bytes } }

    /// The entry with the longest token list that is a prefix of `tokens` (and shorter than it,
    /// so at least one token is left to give fresh logits... unless equal, which is also fine:
    /// the snapshot holds the logits). Marks it used.
    func longestPrefix(of tokens: [Int32]) -> SessionSnapshot? {
        lock.withLock {
            var best: Int?
            for (i, e) in entries.enumerated() {
                let t = e.snapshot.tokens
                guard t.count <= tokens.count, t.count > (best.map { entries[$0].snapshot.tokens.count } ?? 0) else { continue }
                if t.elementsEqual(tokens.prefix(t.count)) { best = i }
            }
            guard let best else { return nil }
            clock += 1
            entries[best].lastUse = clock
            return entries[best].snapshot
        }
    }

    /// Keeps `snapshot`, replacing an entry with the same tokens, evicting the least recently
    /// used until it fits. Returns false when it alone exceeds the budget.
    @discardableResult
    func insert(_ snapshot: SessionSnapshot) -> Bool {
        let size = snapshot.byteCount
        guard size <= budget, !snapshot.tokens.isEmpty else { return false }
        return lock.withLock {
            if let i = entries.firstIndex(where: { $0.snapshot.tokens == snapshot.tokens }) {
                bytes -= entries[i].snapshot.byteCount
                entries.remove(at: i)
            }
            while bytes + size > budget, let victim = entries.indices.min(by: { entries[$0].lastUse < entries[$1].lastUse }) {
                bytes -= entries[victim].snapshot.byteCount
                entries.remove(at: victim)
            }
            clock += 1
            entries.append(Entry(snapshot: snapshot, lastUse: clock))
            bytes += size
            return true
        }
    }
}
