import Foundation
import RillKernels

/// A STREAM-like read probe: sums a buffer much larger than the last-level cache with the
/// same thread pool the kernels use, and reports GB/s (10⁹ B/s).
///
/// The buffer is allocated and touched once, so single passes can be interleaved with decode
/// (``pass()``): on a shared host the read bandwidth can move by half between consecutive
/// seconds (a 2-core cloud guest read 31–58 GB/s in back-to-back runs), and only a probe taken
/// while decoding says what decode had available.
public final class BandwidthProbe {
    private let pool: ThreadPool
    private let buf: UnsafeMutablePointer<Float>
    private let count: Int
    private let partial: UnsafeMutablePointer<Float>

    /// Bytes one pass reads.
    public var bytes: Int { count * 4 }

    /// - Parameter bytes: buffer size (default 256 MiB, well beyond any board's cache). It stays
    ///   resident until the probe is released.
    public init(pool: ThreadPool, bytes: Int = 256 << 20) {
        self.pool = pool
        count = max(1 << 16, bytes / 4)
        buf = .allocate(capacity: count)
        // Touch every page with non-zero data so the reads hit real memory.
        for i in 0..<count { buf[i] = Float(i & 1023) }
        partial = .allocate(capacity: 1024)
    }

    deinit {
        buf.deallocate()
        partial.deallocate()
    }

    /// The best of `passes` passes, as STREAM reports: the most the machine gave at any moment.
    public func best(passes: Int = 5) -> Double {
        (0..<max(1, passes)).reduce(0) { best, _ in max(best, pass()) }
    }

    /// One pass over the whole buffer, in GB/s.
    public func pass() -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        pool.parallelRows(total: count, alignment: 1 << 16, ProbeTask(buf: buf, partial: partial))
        let t1 = DispatchTime.now().uptimeNanoseconds
        return Double(bytes) / Double(max(1, t1 - t0))
    }
}

/// Sums one chunk; the sum is stored so the loads cannot be removed.
private struct ProbeTask: ParallelRowsTask {
    let buf: UnsafeMutablePointer<Float>
    let partial: UnsafeMutablePointer<Float>

    func run(rows range: Range<Int>) {
        var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
        var i = range.lowerBound
        let raw = UnsafeRawPointer(buf)
        while i + 32 <= range.upperBound {
            acc0 += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
            acc1 += raw.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self)
            i += 32
        }
        var s = (acc0 + acc1).sum()
        while i < range.upperBound { s += buf[i]; i += 1 }
        partial[(range.lowerBound / (1 << 16)) % 1024] = s
    }
}
