import CRillKernels
import RealModule

// The two recurrent steps of a Mamba-1 mixer (Gu & Dao 2023, Algorithm 2; DESIGN.md §3.1):
// the causal depthwise convolution over the last K inputs and the selective-scan state update.
// Both take a channel range, so a layer's channels can be split across threads.

// MARK: - Causal depthwise convolution

/// One token of Mamba's causal depthwise conv1d followed by SiLU, for the channels in
/// `channels`:
///
///     out[c] = silu(Σ_{k<K−1} w[c, k] · win[c, k] + w[c, K−1] · u[c] + b[c])
///
/// then the window moves on by one token.
///
/// - Parameters:
///   - window: the state, `[C, K−1]` row-major: `window[c·(K−1) + k]` is the input of channel `c`
///     from `K−1−k` tokens ago (k = 0 oldest, k = K−2 newest); zeros before the first token.
///     Updated by shifting each channel's K−1 values left by one and storing `u[c]` last
///     (a copy of K−2 ≤ 2 floats per channel for Mamba's K = 4: cheaper than a ring index).
///   - weight: `[C, K]` row-major f32 (PyTorch's `conv1d.weight [C, 1, K]`); `w[c, K−1]` meets
///     the newest input.
///   - bias: `[C]`, or nil for none.
///   - input: `u`, `[C]`: this token's inputs.
///   - output: `[C]`; may not overlap `window`; may be `input`.
///   - kernelSize: K ≥ 1 (K = 1 is a pointwise scale with an empty window).
///   - channels: the channels to compute, a subrange of `0..<C`.
///
/// The sum runs left to right in `Float` in the order written above; SiLU uses ``vexp(_:)``
/// (see ``silu(_:_:count:)``), so each output depends on its channel's values alone.
public func convStep(
    window: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, kernelSize: Int, channels: Range<Int>
) {
    precondition(kernelSize >= 1 && channels.lowerBound >= 0)
    convPreactivations(window: window, weight: weight, bias: bias, input: input, output: output,
                       kernelSize: kernelSize, channels: channels)
    silu(UnsafePointer(output + channels.lowerBound), output + channels.lowerBound, count: channels.count)
}

/// `T` tokens of ``convStep(window:weight:bias:input:output:kernelSize:channels:)`` — prefill —
/// consuming and updating the same window: equal, bitwise, to `T` calls of the step.
///
/// - Parameters:
///   - input: token `t`'s inputs start at `input + t · inputStride` (`[T, ≥C]`, e.g. the `u` half
///     of an in_proj output row of 2·d_inner).
///   - output: token `t`'s outputs start at `output + t · outputStride`.
///   - tokens: T ≥ 0.
///
/// Tokens run outer, channels inner: the window of a channel range stays in cache.
public func convSequence(
    window: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    input: UnsafePointer<Float>, inputStride: Int, output: UnsafeMutablePointer<Float>, outputStride: Int,
    tokens: Int, kernelSize: Int, channels: Range<Int>
) {
    precondition(tokens >= 0 && kernelSize >= 1 && channels.lowerBound >= 0)
    for t in 0..<tokens {
        convStep(window: window, weight: weight, bias: bias, input: input + t * inputStride,
                 output: output + t * outputStride, kernelSize: kernelSize, channels: channels)
    }
}

/// Scalar twin of ``convStep(window:weight:bias:input:output:kernelSize:channels:)``: the same
/// sum in the same order, any K, SiLU with libm's `expf`.
public func convStepReference(
    window: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, kernelSize: Int, channels: Range<Int>
) {
    precondition(kernelSize >= 1 && channels.lowerBound >= 0)
    let k1 = kernelSize - 1
    for c in channels {
        let win = window + c * k1, w = weight + c * kernelSize
        let u = input[c]
        var s: Float = k1 > 0 ? w[0] * win[0] : w[0] * u
        if k1 > 0 {
            for k in 1..<k1 { s += w[k] * win[k] }
            s += w[k1] * u
        }
        if let bias { s += bias[c] }
        for k in 0..<max(0, k1 - 1) { win[k] = win[k + 1] }
        if k1 > 0 { win[k1 - 1] = u }
        output[c] = s / (1 + Float.exp(-s))
    }
}

/// The pre-activation sums of the conv step into `output[c]`, and the window shift.
/// K = 4 (every Mamba checkpoint) is unrolled; other K take the loop, with the same order.
@inline(__always)
func convPreactivations(
    window: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, kernelSize: Int, channels: Range<Int>
) {
    let k1 = kernelSize - 1
    if kernelSize == 4 {
        for c in channels {
            let win = window + 3 * c, w = weight + 4 * c
            let u = input[c]
            let h0 = win[0], h1 = win[1], h2 = win[2]
            var s = w[0] * h0
            s += w[1] * h1
            s += w[2] * h2
            s += w[3] * u
            if let bias { s += bias[c] }
            win[0] = h1; win[1] = h2; win[2] = u
            output[c] = s
        }
        return
    }
    for c in channels {
        let win = window + c * k1, w = weight + c * kernelSize
        let u = input[c]
        var s: Float = k1 > 0 ? w[0] * win[0] : w[0] * u
        if k1 > 0 {
            for k in 1..<k1 { s += w[k] * win[k] }
            s += w[k1] * u
        }
        if let bias { s += bias[c] }
        for k in 0..<max(0, k1 - 1) { win[k] = win[k + 1] }
        if k1 > 0 { win[k1 - 1] = u }
        output[c] = s
    }
}

// MARK: - Selective scan

/// One token of Mamba's selective scan (discretised with zero-order hold for A, Euler for B)
/// for the channels in `channels`:
///
///     h[c, n] = exp(Δ[c] · A[c, n]) · h[c, n] + (Δ[c] · B[n]) · u[c]
///     y[c]    = Σ_n h[c, n] · C[n] + D[c] · u[c]
///
/// - Parameters:
///   - state: `h`, `[channels, N]` row-major f32, updated in place.
///   - delta: `Δ`, `[channels]`, already through softplus (and its bias).
///   - a: `A = −exp(A_log)`, `[channels, N]` row-major.
///   - b, c: this token's `B`, `C`, `[N]` each (shared by all channels).
///   - d: `D`, `[channels]`.
///   - input: `u`, `[channels]` (the conv output).
///   - output: `y`, `[channels]`; may be `input`.
///   - stateSize: N ≥ 1 (16 in Mamba-1).
///   - channels: a subrange of `0..<d_inner`.
///
/// The C kernel `rill_selective_scan_step` (CRillKernels): N in groups of 8 lanes (the last
/// group padded), exp with fused multiply-adds where the CPU has them, the sum over n in those
/// lanes, then across them. Within a few ulp of
/// ``selectiveScanStepReference(state:delta:a:b:c:d:input:output:stateSize:channels:)``
/// per state element.
public func selectiveScanStep(
    state: UnsafeMutablePointer<Float>, delta: UnsafePointer<Float>, a: UnsafePointer<Float>,
    b: UnsafePointer<Float>, c: UnsafePointer<Float>, d: UnsafePointer<Float>,
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, stateSize n: Int, channels: Range<Int>
) {
    precondition(n >= 1 && channels.lowerBound >= 0)
    rill_selective_scan_step(state, delta, a, b, c, d, input, output, n, channels.lowerBound, channels.upperBound)
}

/// Scalar twin of ``selectiveScanStep(state:delta:a:b:c:d:input:output:stateSize:channels:)``:
/// libm's `expf`, the sum over n left to right.
public func selectiveScanStepReference(
    state: UnsafeMutablePointer<Float>, delta: UnsafePointer<Float>, a: UnsafePointer<Float>,
    b: UnsafePointer<Float>, c: UnsafePointer<Float>, d: UnsafePointer<Float>,
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, stateSize n: Int, channels: Range<Int>
) {
    precondition(n >= 1 && channels.lowerBound >= 0)
    for ch in channels {
        let dt = delta[ch], u = input[ch]
        var y: Float = 0
        for j in 0..<n {
            let i = ch * n + j
            state[i] = Float.exp(dt * a[i]) * state[i] + (dt * b[j]) * u
            y += state[i] * c[j]
        }
        output[ch] = y + d[ch] * u
    }
}
