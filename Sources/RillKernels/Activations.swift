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

// MARK: - Softplus

/// `out[i] = log(1 + e^x[i])`, or `x[i]` where `x[i] > 20` — PyTorch's `F.softplus` with
/// `beta = 1, threshold = 20`. Scalar (libm `expf`, `log1pf`): it runs on `d_inner`
/// elements per layer, next to mat-vecs a thousand times larger.
public func softplus(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count n: Int) {
    precondition(n >= 0)
    for i in 0..<n { out[i] = softplus(x[i]) }
}

/// In-place ``softplus(_:_:count:)``.
public func softplus(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    softplus(UnsafePointer(x), x, count: n)
}

/// `log(1 + e^x)`, or `x` when `x > 20` (PyTorch's threshold). `−∞` gives 0, NaN gives NaN.
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
