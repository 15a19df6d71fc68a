// RMS normalisation (Zhang & Sennrich 2019), as Mamba's `MambaRMSNorm` and TransNormerLLM's
// `SimpleRMSNorm` compute it in f32: `x · rsqrt(mean(x²) + eps)`, then times the weight.

/// `out[i] = w[i] · (x[i] · r)` with `r = 1 / sqrt(Σ_j x[j]² / n + eps)`, for `i < n`
/// (PyTorch: `weight * (x * torch.rsqrt(x.pow(2).mean(-1) + eps))` in f32).
///
/// The sum of squares runs in `Float`, 16 lanes, so it differs from
/// ``rmsNormReference(_:weight:eps:_:count:)`` by rounding only (relative ~1e-6 on `r`).
/// `out` may be `x`. `n` must be positive. A zero vector gives zeros (`r = 1/sqrt(eps)`);
/// ±∞ or NaN in `x` gives NaN everywhere.
public func rmsNorm(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float, _ out: UnsafeMutablePointer<Float>, count n: Int
) {
    precondition(n > 0)
    let r = 1 / (sumOfSquares(x, count: n) / Float(n) + eps).squareRoot()
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) * r
        let w = UnsafeRawPointer(weight + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(out + i).storeBytes(of: w * v, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { out[i] = weight[i] * (x[i] * r); i += 1 }
}

/// Scalar twin of ``rmsNorm(_:weight:eps:_:count:)``: the sum of squares left to right.
public func rmsNormReference(
    _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float, _ out: UnsafeMutablePointer<Float>, count n: Int
) {
    precondition(n > 0)
    var ss: Float = 0
    for i in 0..<n { ss += x[i] * x[i] }
    let r = 1 / (ss / Float(n) + eps).squareRoot()
    for i in 0..<n { out[i] = weight[i] * (x[i] * r) }
}

/// `out[i] = x[i] · r` with `r = 1 / sqrt(Σ_j x[j]² / n + eps)` — RMSNorm without a weight
/// (TransNormerLLM's `SimpleRMSNorm`). Same accuracy and edge cases as
/// ``rmsNorm(_:weight:eps:_:count:)``; `out` may be `x`.
public func simpleRMSNorm(_ x: UnsafePointer<Float>, eps: Float, _ out: UnsafeMutablePointer<Float>, count n: Int) {
    precondition(n > 0)
    let r = 1 / (sumOfSquares(x, count: n) / Float(n) + eps).squareRoot()
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) * r
        UnsafeMutableRawPointer(out + i).storeBytes(of: v, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { out[i] = x[i] * r; i += 1 }
}

/// Scalar twin of ``simpleRMSNorm(_:eps:_:count:)``.
public func simpleRMSNormReference(_ x: UnsafePointer<Float>, eps: Float, _ out: UnsafeMutablePointer<Float>, count n: Int) {
    precondition(n > 0)
    var ss: Float = 0
    for i in 0..<n { ss += x[i] * x[i] }
    let r = 1 / (ss / Float(n) + eps).squareRoot()
    for i in 0..<n { out[i] = x[i] * r }
}

/// `Σ x[i]²` in two 8-lane accumulators, then the tail.
@inline(__always)
func sumOfSquares(_ x: UnsafePointer<Float>, count n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
    var i = 0
    while i + 16 <= n {
        let v0 = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        let v1 = UnsafeRawPointer(x + i + 8).loadUnaligned(as: SIMD8<Float>.self)
        a0 += v0 * v0
        a1 += v1 * v1
        i += 16
    }
    var s = (a0 + a1).sum()
    while i < n { s += x[i] * x[i]; i += 1 }
    return s
}
