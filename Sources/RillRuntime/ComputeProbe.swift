import Foundation
import RillKernels

/// The compute roofline: the peak multiply-add rate of the pool's threads, each running long
/// chains of independent multiply-adds on registers at once (`compute_peak.c`). f32 is the
/// fused multiply-add the prefill's sgemm runs on; integer is the byte dot product the
/// quantised mat-vecs run on (VNNI, AVX2's maddubs chain, NEON sdot).
public struct ComputePeak: Sendable, Encodable {
    /// 10⁹ floating-point operations a second (a multiply-add counts 2), all threads together.
    public var f32GFlops: Double
    /// 10⁹ byte multiply-adds × 2 a second, all threads together.
    public var int8GOps: Double
    public var threads: Int
    public var isa: String

    enum CodingKeys: String, CodingKey {
        case f32GFlops = "f32_gflop_s", int8GOps = "int8_gop_s", threads, isa
    }

    /// Measures on `pool`: each probe runs about `seconds` on every thread, three times, and
    /// the best is kept (as STREAM keeps its best pass: the most the cores gave).
    public static func measure(pool: ThreadPool, seconds: Double = 0.05) -> ComputePeak {
        func best(_ opsPerIteration: Int64, _ run: @escaping @Sendable (Int64) -> Void) -> Double {
            // Iterations for ~`seconds` on one thread, from a short timed run.
            var n: Int64 = 1 << 12
            while true {
                let t0 = DispatchTime.now().uptimeNanoseconds
                run(n)
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                if dt > seconds / 8 { n = Int64(Double(n) * seconds / dt); break }
                n *= 4
            }
            var rate = 0.0
            for _ in 0..<3 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                pool.parallelRows(total: pool.threadCount, alignment: 1) { rows in
                    for _ in rows { run(n) }
                }
                let dt = Double(DispatchTime.now().uptimeNanoseconds - t0)
                rate = max(rate, Double(opsPerIteration) * Double(n) * Double(pool.threadCount) / dt)
            }
            return rate
        }
        let sink = Sink()
        let f = best(PeakRate.f32OpsPerIteration) { sink.f(PeakRate.f32(iterations: $0, a: 1, b: 0.5)) }
        let i = best(PeakRate.int8OpsPerIteration) { sink.i(PeakRate.int8(iterations: $0, a: 3, b: -5)) }
        return ComputePeak(f32GFlops: f, int8GOps: i, threads: pool.threadCount, isa: integerKernelISA)
    }
}

/// Keeps the probes' results observable (they are otherwise unused).
private final class Sink: @unchecked Sendable {
    private let lock = NSLock()
    private var fs: Float = 0, `is`: Int32 = 0
    func f(_ v: Float) { lock.lock(); fs += v; lock.unlock() }
    func i(_ v: Int32) { lock.lock(); `is` &+= v; lock.unlock() }
}
