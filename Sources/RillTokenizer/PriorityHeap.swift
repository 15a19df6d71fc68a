/// An element of a ``PriorityHeap``: `before` is the heap's strict order (the top comes first).
protocol HeapOrdered {
    func before(_ other: Self) -> Bool
}

/// A binary heap over an array, top = the element no other comes `before`. Shared by the BPE
/// merge loops (`BPEMerges`, SentencePiece's BPE), whose agendas differ only in their order.
/// `removeAll(keepingCapacity:)` lets a caller reuse its storage across words.
struct PriorityHeap<Element: HeapOrdered> {
    private var heap: [Element] = []

    mutating func removeAll(keepingCapacity keep: Bool) {
        heap.removeAll(keepingCapacity: keep)
    }

    mutating func push(_ e: Element) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].before(heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Element? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var i = 0
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && heap[l].before(heap[m]) { m = l }
            if r < n && heap[r].before(heap[m]) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return top
    }
}
