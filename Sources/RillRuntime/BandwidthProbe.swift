import Foundation
import RillKernels

/// A STREAM-like read probe: sums a buffer much larger than the last-level cache with the
/// same thread pool the kernels use, and reports the best of several passes in GB/s (10⁹ B/s).
public enum BandwidthProbe {
    /// - Parameter bytes: buffer size (default 256 MiB, well beyond any board's cache).
    public static func measure(pool: ThreadPool, bytes: Int = 256 << 20, passes: Int = 5) -> Double {
        let count = bytes / 4
        let buf = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buf.deallocate() }
        // Touch every page with non-zero data so the reads hit real memory.
        for i in stride(from: 0, to: count, by: 1) { buf[i] = Float(i & 1023) }
        var best = 0.0
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: 64 * 16)
        defer { partial.deallocate() }
        for _ in 0..<passes {
            let t0 = DispatchTime.now().uptimeNanoseconds
            pool.parallelRows(total: count, alignment: 1 << 16) { range in
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
            let t1 = DispatchTime.now().uptimeNanoseconds
            best = max(best, Double(bytes) / Double(t1 - t0))
        }
        return best
    }
}
