// A vector exp for the element-wise kernels (SiLU, the scan's exp(Δ·A)). libm's expf is a call
// per element; this is ~20 vector instructions per 8 elements and stays inside the loop.

/// `e^x` in 8 lanes: Cody–Waite reduction `x = k·ln 2 + r`, |r| ≤ ln 2 / 2, then Cephes' expf
/// polynomial (degree 7 in total) for `e^r`, then `· 2^k` by building the exponent bits.
///
/// Relative error ≤ 2 ulp against the correctly rounded `e^x` for results in the normal range
/// (checked against `Float.exp` in the tests). Edge cases: `x > 88.73` gives `+∞` (overflow, as
/// expf), `x < −104` gives 0 (expf's result would be below half the least subnormal there),
/// subnormal results are rounded once, `−∞` gives 0, `+∞` gives `+∞`, NaN gives NaN.
@inline(__always)
func vexp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    // Clamp so that k ∈ [−150, 129]: both halves of 2^k below stay normal numbers.
    var t = x.replacing(with: -104, where: x .< -104)
    t = t.replacing(with: 89, where: t .> 89)
    // k = round(t / ln 2): adding 1.5·2²³ rounds to an integer, which then sits in the low
    // mantissa bits (no float → int conversion, which generic Swift SIMD does lane by lane).
    let magic: Float = 12_582_912
    let shifted = t * 1.442_695_04 + magic
    let kf = shifted - magic
    let k = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- Int32(bitPattern: magic.bitPattern)
    // r = t − k·ln 2 in two steps (0.693359375 has few mantissa bits, so k·C1 is exact).
    let r = (t - kf * 0.693_359_375) + kf * 2.121_944_4e-4
    var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    let er = (p * (r * r) + r) + 1
    // 2^k as 2^k1 · 2^k2 with k1 = ⌊k/2⌋, so that each factor is a normal float.
    let k1 = k &>> 1, k2 = k &- k1
    let s1 = unsafeBitCast((k1 &+ 127) &<< 23, to: SIMD8<Float>.self)
    let s2 = unsafeBitCast((k2 &+ 127) &<< 23, to: SIMD8<Float>.self)
    let result = (er * s1) * s2
    return result.replacing(with: x, where: x .!= x)  // NaN in, NaN out
}

/// Loads `x[0..<count]` (count ≤ 8) into the first lanes, zeros after.
@inline(__always)
func loadPartial(_ x: UnsafePointer<Float>, count: Int) -> SIMD8<Float> {
    var v = SIMD8<Float>()
    for i in 0..<count { v[i] = x[i] }
    return v
}

/// Stores the first `count` lanes of `v` (count ≤ 8) to `out[0..<count]`.
@inline(__always)
func storePartial(_ v: SIMD8<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { out[i] = v[i] }
}
