import RealModule

// Element-wise activations and vector arithmetic on f32 buffers. The vector forms work in
// 8 lanes with the last `n % 8` elements padded in a register, so each element's result
// depends on its value alone, not on where a range starts (results are the same whatever the
// thread split). `out` may be the same buffer as an input in every function here.

// MARK: - SiLU

/// `out[i] = x[i] · σ(x[i]) = x[i] / (1 + e^(−x[i]))` for `i < n` (PyTorch's `F.silu`).
///
/// Uses the vector ``vexp(_:)``: within 4 ulp of ``siluReference(_:_:count:)`` (in the tests).
/// Large negative `x` gives −0 (as PyTorch), large positive gives `x`; NaN gives NaN.
public func silu(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count n: Int) {
    precondition(n >= 0)
    var i = 0
    while i < n {
        // One code path for full and partial groups, so that vexp is inlined (one call site).
        let count = min(8, n - i)
        let v = count == 8 ? UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) : loadPartial(x + i, count: count)
        let r = v / (1 + vexp(-v))
        if count == 8 {
            UnsafeMutableRawPointer(out + i).storeBytes(of: r, as: SIMD8<Float>.self)
        } else {
            storePartial(r, out + i, count: count)
        }
        i += 8
    }
}

/// In-place ``silu(_:_:count:)``: `x[i] = silu(x[i])`.
public func silu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    silu(UnsafePointer(x), x, count: n)
}

/// Scalar twin of ``silu(_:_:count:)`` with libm's `expf`.
public func siluReference(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count n: Int) {
    precondition(n >= 0)
    for i in 0..<n { out[i] = x[i] / (1 + Float.exp(-x[i])) }
}

// MARK: - Softmax

/// softmax over `x[0..<n]` in place: the maximum subtracted, ``vexp(_:)`` in 8 lanes, the sum
/// accumulated in 8 lanes, then every element scaled by 1/Σ. Within a few ulp of
/// ``softmaxReference(_:count:)`` (in the tests). An attention row over thousands of keys made
/// libm's per-element `expf` a fifth of a long-context decode step.
public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    precondition(n >= 0)
    guard n > 0 else { return }
    var mv = SIMD8<Float>(repeating: -.infinity)
    var i = 0
    while i + 8 <= n {
        mv = pointwiseMax(mv, UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self))
        i += 8
    }
    var m = mv.max()
    while i < n { m = max(m, x[i]); i += 1 }
    var sumv = SIMD8<Float>()
    i = 0
    while i < n {
        // One code path for full and partial groups, so that vexp is inlined (one call site).
        let count = min(8, n - i)
        let v = count == 8 ? UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) : loadPartial(x + i, count: count)
        var e = vexp(v - m)
        if count < 8 { for l in count..<8 { e[l] = 0 } }
        sumv += e
        if count == 8 {
            UnsafeMutableRawPointer(x + i).storeBytes(of: e, as: SIMD8<Float>.self)
        } else {
            storePartial(e, x + i, count: count)
        }
        i += 8
    }
    let inv = 1 / sumv.sum()
    i = 0
    while i + 8 <= n {
        let p = UnsafeMutableRawPointer(x + i)
        p.storeBytes(of: p.loadUnaligned(as: SIMD8<Float>.self) * inv, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { x[i] *= inv; i += 1 }
}

/// Scalar twin of ``softmaxInPlace(_:count:)`` with libm's `expf`, summed in order.
public func softmaxReference(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    guard n > 0 else { return }
    var m = -Float.infinity
    for j in 0..<n { m = max(m, x[j]) }
    var sum: Float = 0
    for j in 0..<n {
        x[j] = Float.exp(x[j] - m)
        sum += x[j]
    }
    for j in 0..<n { x[j] /= sum }
}

// MARK: - Softplus

/// `out[i] = log(1 + e^x[i])`, or `x[i]` where `x[i] > 20` — PyTorch's `F.softplus` with
/// `beta = 1, threshold = 20`.
///
/// In 8 lanes as `max(x, 0) + log1p(e^(−|x|))`: ``vexp(_:)``, then `log1p` of a value in
/// (0, 1] by Cephes' `logf` polynomial, with no rounding of `1 + y` (see ``vlog1pUnit(_:)``).
/// It runs on `d_inner` elements per Mamba layer and token: with libm's `expf` and `log1pf`
/// per element it was 3 % of Mamba-130M decode. Within 4 ulp of the float64 softplus (tests);
/// `−∞` gives 0, `+∞` gives `+∞`, NaN gives NaN; each result depends on its element alone.
public func softplus(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count n: Int) {
    precondition(n >= 0)
    var i = 0
    while i < n {
        // One code path for full and partial groups, so that vexp is inlined (one call site).
        let count = min(8, n - i)
        let v = count == 8 ? UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) : loadPartial(x + i, count: count)
        let magnitude = unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
        var r = v.replacing(with: 0, where: v .< 0) + vlog1pUnit(vexp(-magnitude))
        r.replace(with: v, where: v .> 20)
        if count == 8 {
            UnsafeMutableRawPointer(out + i).storeBytes(of: r, as: SIMD8<Float>.self)
        } else {
            storePartial(r, out + i, count: count)
        }
        i += 8
    }
}

/// `log(1 + y)` for `y` in [0, 1] (NaN gives NaN). Cephes' `logf` reduces `u = 1 + y` to
/// `u = 2^e · (1 + f)` with `1 + f` in [√½, √2); here `f` comes from `y` without forming `u`:
/// `f = y` (e = 0) for `y ≤ √2 − 1`, else `f = (y − 1) / 2` (e = 1). So tiny `y` keep their
/// bits (`log1p(y) ≈ y`), where `log(1 + y)` would round them away.
@inline(__always)
func vlog1pUnit(_ y: SIMD8<Float>) -> SIMD8<Float> {
    let upper = y .> 0.414_213_56
    let f = y.replacing(with: (y - 1) * 0.5, where: upper)
    let e = SIMD8<Float>(repeating: 0).replacing(with: 1, where: upper)
    let z = f * f
    var p = SIMD8<Float>(repeating: 7.037_683_629_2e-2)
    p = p * f - 1.151_461_031_0e-1
    p = p * f + 1.167_699_874_0e-1
    p = p * f - 1.242_014_084_6e-1
    p = p * f + 1.424_932_278_7e-1
    p = p * f - 1.666_805_766_5e-1
    p = p * f + 2.000_071_476_5e-1
    p = p * f - 2.499_999_399_3e-1
    p = p * f + 3.333_333_117_4e-1
    // ln 2 in two parts, as in vexp, so that e · 0.693359375 is exact.
    var r = p * f * z + e * -2.121_944_4e-4
    r += z * -0.5
    return (f + r) + e * 0.693_359_375
}

/// In-place ``softplus(_:_:count:)``.
public func softplus(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    softplus(UnsafePointer(x), x, count: n)
}

/// `log(1 + e^x)`, or `x` when `x > 20` (PyTorch's threshold), with libm's `expf` and
/// `log1pf`: the scalar twin of ``softplus(_:_:count:)``. `−∞` gives 0, NaN gives NaN.
@inlinable
public func softplus(_ x: Float) -> Float {
    x > 20 ? x : Float.log(onePlus: Float.exp(x))
}

// MARK: - Arithmetic

/// `out[i] = a[i] · b[i]` for `i < n`.
public func mul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count n: Int) {
    precondition(n >= 0)
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(out + i).storeBytes(of: v, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { out[i] = a[i] * b[i]; i += 1 }
}

/// `out[i] = a[i] + b[i]` for `i < n`.
public func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count n: Int) {
    precondition(n >= 0)
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self)
            + UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(out + i).storeBytes(of: v, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { out[i] = a[i] + b[i]; i += 1 }
}

/// `y[i] += alpha · x[i]` for `i < n` (BLAS `saxpy`, unfused: `y + (alpha · x)` rounded twice).
public func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
    precondition(n >= 0)
    var i = 0
    while i + 8 <= n {
        let p = UnsafeMutableRawPointer(y + i)
        let v = p.loadUnaligned(as: SIMD8<Float>.self) + alpha * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
        p.storeBytes(of: v, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}
