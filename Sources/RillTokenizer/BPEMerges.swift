/// BPE merge rules keyed by the pair of token ids, and the merge loop over one word.
///
/// The loop is `tokenizers`' `Word::merge_all`: a min-heap of candidate pairs ordered by
/// (rank, position), so the best-ranked pair merges first and equal pairs merge left to right;
/// entries made stale by an earlier merge are skipped when popped. O(n log n) per word.
struct BPEMerges: Sendable {
    /// A merge rule: its priority (lower merges first) and the id of the merged token.
    struct Rule: Sendable {
        var rank: Int32
        var result: Int32
    }

    /// `rules[left << 32 | right]`.
    private var rules: [UInt64: Rule] = [:]

    var count: Int { rules.count }

    init(capacity: Int) { rules.reserveCapacity(capacity) }

    @inline(__always) static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// Adds a rule; a later rule for the same pair replaces the earlier one, as in `tokenizers`.
    mutating func add(_ left: Int32, _ right: Int32, rank: Int32, result: Int32) {
        rules[Self.key(left, right)] = Rule(rank: rank, result: result)
    }

    @inline(__always) func rule(_ left: Int32, _ right: Int32) -> Rule? {
        rules[Self.key(left, right)]
    }

    /// Merges `scratch.symbols` (a word's initial symbols) in place and appends the result to `ids`.
    func apply(_ scratch: inout BPEScratch, appendingTo ids: inout [Int32]) {
        let n = scratch.symbols.count
        if n == 0 { return }
        if n == 1 {
            ids.append(scratch.symbols[0])
            return
        }
        scratch.prepareLinks()
        scratch.heap.removeAll(keepingCapacity: true)
        for i in 0..<(n - 1) {
            if let r = rule(scratch.symbols[i], scratch.symbols[i + 1]) {
                scratch.heap.push(.init(rank: r.rank, position: Int32(i), result: r.result))
            }
        }
        while let top = scratch.heap.pop() {
            let p = Int(top.position)
            let left = scratch.symbols[p]
            let q = Int(scratch.next[p])
            // Stale: the left symbol was merged away, has no right neighbour, or the pair changed.
            if left < 0 || q < 0 { continue }
            guard let r = rule(left, scratch.symbols[q]), r.result == top.result else { continue }
            scratch.symbols[p] = r.result
            scratch.symbols[q] = -1
            let after = scratch.next[q]
            scratch.next[p] = after
            if after >= 0 { scratch.prev[Int(after)] = Int32(p) }
            let before = scratch.prev[p]
            if before >= 0, let r = rule(scratch.symbols[Int(before)], scratch.symbols[p]) {
                scratch.heap.push(.init(rank: r.rank, position: before, result: r.result))
            }
            if after >= 0, let r = rule(scratch.symbols[p], scratch.symbols[Int(after)]) {
                scratch.heap.push(.init(rank: r.rank, position: Int32(p), result: r.result))
            }
        }
        var i: Int32 = 0
        while i >= 0 {
            ids.append(scratch.symbols[Int(i)])
            i = scratch.next[Int(i)]
        }
    }
}

/// Buffers for `BPEMerges.apply`, allocated once per `encode` call and reused for every word.
struct BPEScratch {
    struct Candidate: HeapOrdered {
        var rank: Int32
        var position: Int32
        var result: Int32

        @inline(__always) func before(_ other: Candidate) -> Bool {
            rank != other.rank ? rank < other.rank : position < other.position
        }
    }

    /// Symbol ids of the current word; -1 marks a symbol merged into its left neighbour.
    var symbols: [Int32] = []
    /// Linked list over live symbols; -1 ends it.
    var prev: [Int32] = []
    var next: [Int32] = []
    /// Merge candidates, lowest rank (then leftmost) first.
    var heap = PriorityHeap<Candidate>()

    mutating func prepareLinks() {
        let n = symbols.count
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        for i in 0..<n {
            prev.append(Int32(i) - 1)
            next.append(i + 1 < n ? Int32(i + 1) : -1)
        }
    }
}
