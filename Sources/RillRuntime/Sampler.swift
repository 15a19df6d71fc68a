/// Sampling settings, as in llama.cpp: temperature, top-k, top-p (nucleus) and a repetition
/// penalty over the last `repeatWindow` tokens.
public struct SamplerSettings: Sendable, Equatable {
    /// 0 means greedy (arg-max, first index on ties).
    public var temperature: Float = 0.8
    /// Keep the k most likely tokens (0 = all).
    public var topK: Int = 40
    /// Keep the smallest set of tokens whose probability reaches p (1 = all).
    public var topP: Float = 0.95
    /// Divide positive logits (multiply negative ones) of recent tokens by this (1 = off).
    public var repeatPenalty: Float = 1.0
    /// How many recent tokens the penalty looks at.
    public var repeatWindow: Int = 64
    public var seed: UInt64 = 0

    public init() {}
}

/// Picks the next token from logits. All buffers are allocated once: sampling a token
/// allocates nothing.
public final class Sampler {
    public let settings: SamplerSettings
    public let vocabSize: Int
    /// xorshift64* state; saved with the session state so a restored run continues identically.
    public var rngState: UInt64
    /// Ring buffer of recent tokens for the repetition penalty.
    private var recent: [Int32]
    private var recentCount = 0
    private var recentHead = 0
    private var candidates: [Int32]
    private var probs: [Float]

    public init(settings: SamplerSettings, vocabSize: Int) {
        self.settings = settings
        self.vocabSize = vocabSize
        rngState = settings.seed &* 0x9E37_79B9_7F4A_7C15 | 1
        recent = [Int32](repeating: 0, count: max(settings.repeatWindow, 1))
        candidates = [Int32](repeating: 0, count: vocabSize)
        probs = [Float](repeating: 0, count: vocabSize)
    }

    /// The recent-token window, oldest first (saved with the session state).
    public var recentTokens: [Int32] {
        get {
            (0..<recentCount).map { recent[(recentHead - recentCount + $0 + 2 * recent.count) % recent.count] }
        }
        set {
            recentCount = 0
            recentHead = 0
            for t in newValue.suffix(recent.count) { accept(t) }
        }
    }

    /// Remembers a token for the repetition penalty (prompt tokens and generated ones).
    public func accept(_ token: Int32) {
        guard settings.repeatWindow > 0 else { return }
        recent[recentHead] = token
        recentHead = (recentHead + 1) % recent.count
        recentCount = min(recentCount + 1, recent.count)
    }

    /// A uniform number in [0, 1).
    public func nextUniform() -> Float {
        rngState ^= rngState >> 12
        rngState ^= rngState << 25
        rngState ^= rngState >> 27
        let v = rngState &* 0x2545_F491_4F6C_DD1D
        return Float(v >> 40) / Float(1 << 24)
    }

    /// Samples from `logits` (`vocabSize` floats; modified in place by the penalty).
    public func sample(_ logits: UnsafeMutablePointer<Float>) -> Int32 {
        if settings.repeatPenalty != 1 {
            for i in 0..<recentCount {
                let t = Int(recent[i])
                guard t >= 0 && t < vocabSize else { continue }
                logits[t] = logits[t] > 0 ? logits[t] / settings.repeatPenalty : logits[t] * settings.repeatPenalty
            }
        }
        if settings.temperature <= 0 { return argmax(logits, vocabSize) }

        // Top-k: keep the k largest in `candidates[0..<k]`, sorted descending.
        let k = settings.topK > 0 ? min(settings.topK, vocabSize) : vocabSize
        return candidates.withUnsafeMutableBufferPointer { cand in
            probs.withUnsafeMutableBufferPointer { pr in
                var n = 0
                if k == vocabSize {
                    for i in 0..<vocabSize { cand[i] = Int32(i) }
                    n = vocabSize
                    sortByLogitDescending(cand.baseAddress!, n, logits)
                } else {
                    // Insertion into a sorted list of k: O(V·k) worst case but O(V) typical.
                    for i in 0..<vocabSize {
                        let v = logits[i]
                        if n == k && v <= logits[Int(cand[n - 1])] { continue }
                        var j = n < k ? n : k - 1
                        if n < k { n += 1 }
                        while j > 0 && logits[Int(cand[j - 1])] < v {
                            cand[j] = cand[j - 1]
                            j -= 1
                        }
                        cand[j] = Int32(i)
                    }
                }
                // Softmax with temperature over the candidates.
                let maxLogit = logits[Int(cand[0])]
                var sum: Float = 0
                for i in 0..<n {
                    let p = expf((logits[Int(cand[i])] - maxLogit) / settings.temperature)
                    pr[i] = p
                    sum += p
                }
                // Top-p: the shortest prefix whose mass reaches p.
                var keep = n
                if settings.topP < 1 {
                    var acc: Float = 0
                    for i in 0..<n {
                        acc += pr[i] / sum
                        if acc >= settings.topP { keep = i + 1; break }
                    }
                }
                var mass: Float = 0
                for i in 0..<keep { mass += pr[i] }
                var r = nextUniform() * mass
                for i in 0..<keep {
                    r -= pr[i]
                    if r < 0 { return cand[i] }
                }
                return cand[keep - 1]
            }
        }
    }
}

/// Index of the largest value, the first on ties; NaN never wins.
public func argmax(_ x: UnsafePointer<Float>, _ n: Int) -> Int32 {
    var best = 0
    var bestValue = -Float.infinity
    for i in 0..<n where x[i] > bestValue {
        bestValue = x[i]
        best = i
    }
    return Int32(best)
}

/// Heap sort of candidate ids by descending logit (no allocation).
private func sortByLogitDescending(_ a: UnsafeMutablePointer<Int32>, _ n: Int, _ logits: UnsafePointer<Float>) {
    func less(_ i: Int, _ j: Int) -> Bool { logits[Int(a[i])] > logits[Int(a[j])] }  // min-heap on value
    func sift(_ start: Int, _ end: Int) {
        var root = start
        while 2 * root + 1 < end {
            var child = 2 * root + 1
            if child + 1 < end && less(child + 1, child) { child += 1 }
            if less(child, root) {
                a.swapAt(root, child)
                root = child
            } else {
                return
            }
        }
    }
    var start = n / 2 - 1
    while start >= 0 { sift(start, n); start -= 1 }
    var end = n - 1
    while end > 0 {
        a.swapAt(0, end)
        sift(0, end)
        end -= 1
    }
}

extension UnsafeMutablePointer {
    @inline(__always) fileprivate func swapAt(_ i: Int, _ j: Int) {
        let t = self[i]
        self[i] = self[j]
        self[j] = t
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
