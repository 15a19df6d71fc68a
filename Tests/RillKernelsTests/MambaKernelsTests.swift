import RillFormat
import RealModule
import RillKernels
import XCTest

final class MambaKernelsTests: XCTestCase {
    struct Conv {
        var window: [Float]
        let weight: [Float], bias: [Float]?
        let channels: Int, k: Int
    }

    func makeConv(channels: Int, k: Int, bias: Bool, seed: UInt64) -> Conv {
        var rng = SplitMix64(seed: seed)
        return Conv(window: rng.floats(channels * (k - 1)), weight: rng.floats(channels * k),
                    bias: bias ? rng.floats(channels) : nil, channels: channels, k: k)
    }

    func step(_ c: inout Conv, _ u: [Float], reference: Bool = false, channels: Range<Int>? = nil) -> [Float] {
        var out = [Float](repeating: .nan, count: c.channels)
        let range = channels ?? 0..<c.channels
        let (weight, bias, k) = (c.weight, c.bias, c.k)
        c.window.withUnsafeMutableBufferPointer { win in
            weight.withUnsafeBufferPointer { w in
                withOptionalPointer(bias) { b in
                    if reference {
                        convStepReference(window: win.baseAddress!, weight: w.baseAddress!, bias: b, input: u, output: &out,
                                          kernelSize: k, channels: range)
                    } else {
                        convStep(window: win.baseAddress!, weight: w.baseAddress!, bias: b, input: u, output: &out,
                                 kernelSize: k, channels: range)
                    }
                }
            }
        }
        return out
    }

    func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let a else { return body(nil) }
        return a.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// The step against its scalar twin: the pre-activation sums are the same operations in the
    /// same order, so the only difference is SiLU's exp: within 4 ulp (+ least subnormal).
    /// Windows must match exactly.
    func testConvStepMatchesReference() {
        for k in [1, 2, 3, 4, 5] {
            for bias in [true, false] {
                var fast = makeConv(channels: 37, k: k, bias: bias, seed: UInt64(50 + k))
                var ref = fast
                var rng = SplitMix64(seed: 60)
                for t in 0..<6 {
                    let u = rng.floats(37, scale: 3)
                    let a = step(&fast, u), b = step(&ref, u, reference: true)
                    for c in 0..<37 {
                        assertClose(a[c], Double(b[c]), tolerance: 4 * Double(b[c].ulp) + Double(Float.leastNonzeroMagnitude),
                                    "K \(k) bias \(bias) token \(t) channel \(c)")
                    }
                    assertBitwiseEqual(fast.window, ref.window, "K \(k) window after token \(t)")
                }
            }
        }
    }

    /// The conv is the causal convolution of the input history (zeros before the first token),
    /// checked in float64 from the definition; the window holds the last K−1 inputs, oldest
    /// first. Tolerance: 4 ulp of SiLU plus K ε relative to Σ|w u|.
    func testConvStepIsCausalConvolutionOfHistory() {
        let channels = 5, k = 4
        var conv = makeConv(channels: channels, k: k, bias: true, seed: 70)
        conv.window = [Float](repeating: 0, count: channels * (k - 1))
        var rng = SplitMix64(seed: 71)
        var history: [[Float]] = []
        for _ in 0..<7 {
            let u = rng.floats(channels, scale: 2)
            history.append(u)
            let out = step(&conv, u)
            for c in 0..<channels {
                var s = Double(conv.bias![c]), mag = abs(s)
                for j in 0..<k {
                    let t = history.count - k + j  // weight j meets the input K−1−j tokens ago
                    let v = t >= 0 ? Double(history[t][c]) : 0
                    s += Double(conv.weight[c * k + j]) * v
                    mag += abs(Double(conv.weight[c * k + j]) * v)
                }
                let expected = s / (1 + Double.exp(-s))
                assertClose(out[c], expected, tolerance: 4 * Double(Float(expected).ulp) + Double(k + 2) * eps * mag,
                            "channel \(c) after \(history.count) tokens")
                let last = history.suffix(k - 1)
                let padded = [Float](repeating: 0, count: k - 1 - last.count) + last.map { $0[c] }
                XCTAssertEqual(Array(conv.window[(c * (k - 1))..<((c + 1) * (k - 1))]), padded, "window of channel \(c)")
            }
        }
    }

    /// T tokens of the sequence form equal T steps, bit for bit, outputs and window, with
    /// strided rows as prefill has them (u is half of a 2·C row).
    func testConvSequenceEqualsRepeatedSteps() {
        for k in [2, 4] {
            let channels = 19, tokens = 9, stride = 2 * channels
            var stepped = makeConv(channels: channels, k: k, bias: true, seed: 80)
            var sequenced = stepped
            var rng = SplitMix64(seed: 81)
            let rowsIn = rng.floats(tokens * stride)
            var expected: [Float] = []
            for t in 0..<tokens { expected += step(&stepped, Array(rowsIn[(t * stride)..<(t * stride + channels)])) }
            var out = [Float](repeating: .nan, count: tokens * stride)
            let (weight, bias) = (sequenced.weight, sequenced.bias!)
            sequenced.window.withUnsafeMutableBufferPointer { win in
                convSequence(window: win.baseAddress!, weight: weight, bias: bias, input: rowsIn, inputStride: stride,
                             output: &out, outputStride: stride, tokens: tokens, kernelSize: k, channels: 0..<channels)
            }
            let got = (0..<tokens).flatMap { out[($0 * stride)..<($0 * stride + channels)] }
            assertBitwiseEqual(got, expected, "K \(k) outputs")
            assertBitwiseEqual(sequenced.window, stepped.window, "K \(k) window")
        }
    }

    /// A channel range computes those channels and moves only their windows.
    func testConvChannelRangeTouchesOnlyThoseChannels() {
        var conv = makeConv(channels: 20, k: 4, bias: false, seed: 90)
        let before = conv.window
        let out = step(&conv, [Float](repeating: 1, count: 20), channels: 8..<13)
        for c in 0..<20 {
            let inside = (8..<13).contains(c)
            XCTAssertEqual(out[c].isNaN, !inside, "output of channel \(c)")
            XCTAssertEqual(Array(conv.window[(3 * c)..<(3 * c + 3)]) == Array(before[(3 * c)..<(3 * c + 3)]), !inside,
                           "window of channel \(c)")
        }
    }

    // MARK: - Selective scan

    struct Scan {
        var h: [Float]
        let a: [Float], d: [Float]
        let channels: Int, n: Int
    }

    func makeScan(channels: Int, n: Int, seed: UInt64) -> Scan {
        var rng = SplitMix64(seed: seed)
        // A = −exp(A_log) with A_log = log(1…n), as Mamba initialises it, plus noise.
        let a = (0..<(channels * n)).map { -Float($0 % n + 1) * (1 + 0.1 * rng.float()) }
        return Scan(h: rng.floats(channels * n), a: a, d: rng.floats(channels), channels: channels, n: n)
    }

    func scanStep(_ s: inout Scan, delta: [Float], b: [Float], c: [Float], u: [Float], reference: Bool,
                  channels: Range<Int>? = nil) -> [Float] {
        var y = [Float](repeating: .nan, count: s.channels)
        let (a, d, n) = (s.a, s.d, s.n)
        let range = channels ?? 0..<s.channels
        s.h.withUnsafeMutableBufferPointer { h in
            if reference {
                selectiveScanStepReference(state: h.baseAddress!, delta: delta, a: a, b: b, c: c, d: d, input: u, output: &y,
                                           stateSize: n, channels: range)
            } else {
                selectiveScanStep(state: h.baseAddress!, delta: delta, a: a, b: b, c: c, d: d, input: u, output: &y,
                                  stateSize: n, channels: range)
            }
        }
        return y
    }

    /// The scan step against its scalar twin over 20 tokens for N = 1, 5, 8, 12, 16 (the padded
    /// group of 8 and full groups). Per step, exp differs by ≤ 2 ulp and the sum over n is
    /// reordered; the state is a contraction (exp(ΔA) < 1), so errors do not grow.
    /// Tolerances: state 1e-5 relative to |h| + |Δ B u| (a few ulp per step, 20 steps);
    /// y 8 · (N + 4) · ε · (Σ_n |h C| + |D u|) (the sum's rounding, with the state's drift).
    func testScanStepMatchesReference() {
        for n in [1, 5, 8, 12, 16] {
            let channels = 13
            var fast = makeScan(channels: channels, n: n, seed: UInt64(100 + n))
            var ref = fast
            var rng = SplitMix64(seed: 110)
            for t in 0..<20 {
                let delta = (0..<channels).map { _ in softplus(rng.float(3)) }
                let b = rng.floats(n), c = rng.floats(n), u = rng.floats(channels, scale: 2)
                let y1 = scanStep(&fast, delta: delta, b: b, c: c, u: u, reference: false)
                let y2 = scanStep(&ref, delta: delta, b: b, c: c, u: u, reference: true)
                for ch in 0..<channels {
                    var mag = abs(Double(ref.d[ch]) * Double(u[ch]))
                    for j in 0..<n { mag += abs(Double(ref.h[ch * n + j]) * Double(c[j])) }
                    assertClose(y1[ch], Double(y2[ch]), tolerance: 8 * Double(n + 4) * eps * mag + 1e-30, "N \(n) token \(t) channel \(ch)")
                }
                for i in 0..<(channels * n) {
                    // Each step: ≤ 2 ulp from exp times |h|, plus a few roundings of the sum.
                    let scale = abs(Double(ref.h[i])) + abs(Double(delta[i / n] * b[i % n] * u[i / n]))
                    assertClose(fast.h[i], Double(ref.h[i]), tolerance: 1e-5 * scale + 1e-30, "N \(n) token \(t) state \(i)")
                }
            }
        }
    }

    /// A channel range updates those channels only (the split across threads relies on it).
    func testScanChannelRangeTouchesOnlyThoseChannels() {
        var s = makeScan(channels: 10, n: 16, seed: 120)
        let before = s.h
        var rng = SplitMix64(seed: 121)
        let y = scanStep(&s, delta: [Float](repeating: 0.5, count: 10), b: rng.floats(16), c: rng.floats(16),
                         u: rng.floats(10), reference: false, channels: 3..<7)
        for ch in 0..<10 {
            let inside = (3..<7).contains(ch)
            XCTAssertEqual(y[ch].isNaN, !inside, "y of channel \(ch)")
            XCTAssertEqual(Array(s.h[(16 * ch)..<(16 * ch + 16)]) == Array(before[(16 * ch)..<(16 * ch + 16)]), !inside,
                           "state of channel \(ch)")
        }
    }

    /// With Δ = 0 the state is unchanged (exp(0) = 1 exactly) and y = Σ h C + D u.
    func testZeroDeltaKeepsState() {
        var s = makeScan(channels: 4, n: 16, seed: 130)
        let before = s.h
        _ = scanStep(&s, delta: [0, 0, 0, 0], b: [Float](repeating: 1, count: 16), c: [Float](repeating: 1, count: 16),
                     u: [1, 2, 3, 4], reference: false)
        XCTAssertEqual(s.h, before)
    }
}
