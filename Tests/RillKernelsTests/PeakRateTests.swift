import RillKernels
import XCTest

/// The roofline probes do the work they count: their results equal scalar twins that perform
/// every counted multiply-add (so a compiler that dropped rounds, or a path that counted more
/// lanes than it ran, fails here).
final class PeakRateTests: XCTestCase {
    /// Chains acc_k = fma(acc_k, 1, 0.5) from k: after n rounds k + n/2, exact in f32 here;
    /// summed over the chains and their lanes.
    func testF32ChainsDoEveryCountedOperation() {
        let chainsTimesLanes = Int(PeakRate.f32OpsPerIteration / 2)
        for n: Int64 in [0, 1, 7, 1000] {
            let got = PeakRate.f32(iterations: n, a: 1, b: 0.5)
            // Lanes of one chain share its start k; the chain count is a divisor of the lanes
            // product: try the counts the paths use (8, 12, 16) and the lane widths (1, 4, 8, 16).
            var candidates: [Double] = []
            for chains in [8, 12, 16] where chainsTimesLanes % chains == 0 {
                let lanes = chainsTimesLanes / chains
                var s = 0.0
                for k in 0..<chains { s += Double(lanes) * (Double(k) + 0.5 * Double(n)) }
                candidates.append(s)
            }
            XCTAssert(candidates.contains { abs($0 - Double(got)) <= 1e-6 * max(1, $0) }, "n \(n): \(got), expected one of \(candidates)")
        }
    }

    /// acc += 3·(−5) per byte: after n rounds −15 · n · (bytes per round).
    func testInt8DotsDoEveryCountedOperation() {
        let bytesPerRound = PeakRate.int8OpsPerIteration / 2
        for n: Int64 in [0, 1, 5, 999] {
            XCTAssertEqual(Int64(PeakRate.int8(iterations: n, a: 3, b: -5)), -15 * n * bytesPerRound, "n \(n)")
        }
    }
}
