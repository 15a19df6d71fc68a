// Reference encoding and decoding of int4k (`Formats/rill.md` §6.5): asymmetric 4-bit blocks of
// 32 whose scale and minimum are 8-bit codes against two f32 per row.
//
// Why this encoding (measured with a NumPy Mamba forward on mamba-tiny, KL(f32 ‖ q) on 2,048
// held-out tokens, the tied embedding int8 in every row): int4 (symmetric, f32 scale, 5.0 bits a
// weight) 1.34e-2; the same with an f16 scale (4.5 bits) 1.33e-2; a non-uniform 16-level codebook
// (IQ4_NL's, 4.5 bits) 1.22e-2; asymmetric with f16 scale and minimum (5.0 bits) 1.04e-2; this,
// asymmetric with u8 codes against the row's two scales (4.5 bits) 1.05e-2; the same with 6-bit
// codes against each 256 elements' scales (llama.cpp's Q4_K layout, 4.5 bits) 1.11e-2. The
// minimum is what helps; 8-bit codes against the row keep it at 4.5 bits without a loss.

/// One row's two f32 scales in int4k: block b decodes as `n · (d · s_b) − (m · m_b)`.
public struct Int4KRowScales: Sendable, Equatable {
    public var d: Float
    public var m: Float
    public init(d: Float, m: Float) { self.d = d; self.m = m }
}

/// Quantises one row of `x.count` floats into int4k blocks of 32: `quants` receives 16 bytes a
/// block (int4's nibble order: byte i holds element i low, i + 16 high), `codes` two bytes a block
/// (scale code, then minimum code); returns the row's scales.
///
/// Per block, the scale d and minimum m ≥ 0 of `x ≈ d·n − m` are searched as llama.cpp's
/// `make_qkx2_quants` searches them: grids of 14–16 levels spread over the block's range
/// (which always includes 0), the levels rounded, then d and m refitted by least squares; the
/// pair of least squared error is kept. The row's scales are the largest d and m over 255; each
/// block's codes are the floor or ceiling of its d and m against them (of the four pairs, the one
/// of least error after the nibbles are rounded again on the stored values). Elements past the row's end take no part in the
/// fit and are encoded as the level nearest 0.
///
/// `importance` (one non-negative weight per element of the row, from `rill convert
/// --calibrate`: the mean square of the activation each column multiplies) turns every error
/// above into a weighted one, Σ wᵢ (xᵢ − x̂ᵢ)², which is the expected squared error of the
/// row's dot product when activations are uncorrelated. nil weighs every element alike.
public func quantizeRowInt4K(
    _ x: UnsafeBufferPointer<Float>, quants: UnsafeMutablePointer<UInt8>, codes: UnsafeMutablePointer<UInt8>,
    importance: UnsafeBufferPointer<Float>? = nil
) -> Int4KRowScales {
    let bs = QuantType.blockSize
    let nb = (x.count + bs - 1) / bs
    precondition(importance == nil || importance!.count == x.count, "importance must give one weight per element")
    var fits = [(d: Float, m: Float)](repeating: (0, 0), count: nb)
    var v = [Float](repeating: 0, count: bs)
    var w = [Float](repeating: 1, count: bs)
    func load(_ b: Int, _ count: Int) {
        for i in 0..<count { v[i] = x[b * bs + i] }
        if let importance { for i in 0..<count { w[i] = importance[b * bs + i] } }
    }
    for b in 0..<nb {
        let count = min(bs, x.count - b * bs)
        load(b, count)
        fits[b] = fitBlock(v, w, count: count)
    }
    let dMax = fits.reduce(Float(0)) { max($0, $1.d) }, mMax = fits.reduce(Float(0)) { max($0, $1.m) }
    let scales = Int4KRowScales(d: dMax / 255, m: mMax / 255)
    var n = [UInt8](repeating: 0, count: bs), bestN = n
    for b in 0..<nb {
        let count = min(bs, x.count - b * bs)
        load(b, count)
        var best: (s: UInt8, m: UInt8) = (0, 0)
        var bestErr = Float.infinity
        let sc = codeCandidates(fits[b].d, scales.d), mc = codeCandidates(fits[b].m, scales.m)
        for s in sc.lo...sc.hi {
            for m in mc.lo...mc.hi {
                let ds = scales.d * Float(s), ms = scales.m * Float(m)
                var err: Float = 0
                for i in 0..<bs {
                    n[i] = nearestLevel(i < count ? v[i] : 0, ds: ds, ms: ms)
                    if i < count {
                        let e = v[i] - (Float(n[i]) * ds - ms)
                        err += w[i] * e * e
                    }
                }
                if err < bestErr {
                    bestErr = err
                    best = (s, m)
                    bestN = n
                }
            }
        }
        codes[2 * b] = best.s
        codes[2 * b + 1] = best.m
        for i in 0..<(bs / 2) {
            quants[b * (bs / 2) + i] = bestN[i] | (bestN[i + bs / 2] << 4)
        }
    }
    return scales
}

/// Inverse of ``quantizeRowInt4K(_:quants:codes:)`` for the blocks of one row: writes
/// `out.count` floats, `x̂ = n · (d · s) − (m · m_code)` with each product rounded to f32.
public func dequantizeRowInt4K(
    quants: UnsafePointer<UInt8>, codes: UnsafePointer<UInt8>, scales: Int4KRowScales, out: UnsafeMutableBufferPointer<Float>
) {
    let bs = QuantType.blockSize
    for j in 0..<out.count {
        let b = j / bs, i = j % bs
        let byte = quants[b * (bs / 2) + (i % (bs / 2))]
        let n = i < bs / 2 ? byte & 0x0F : byte >> 4
        out[j] = int4KValue(n, scales: scales, s: codes[2 * b], m: codes[2 * b + 1])
    }
}

/// The normative decoding of one int4k element.
@inlinable
public func int4KValue(_ n: UInt8, scales: Int4KRowScales, s: UInt8, m: UInt8) -> Float {
    let ds = scales.d * Float(s), ms = scales.m * Float(m)
    return Float(n) * ds - ms
}

/// The nibble whose level `n·ds − ms` lies nearest `x` (ties to even), 0 when the scale is 0.
private func nearestLevel(_ x: Float, ds: Float, ms: Float) -> UInt8 {
    guard ds > 0 else { return 0 }
    let t = ((x + ms) / ds).rounded(.toNearestOrEven)
    return t.isNaN ? 0 : UInt8(max(0, min(15, t)))
}

/// The codes just below and above `value / unit` (equal when they coincide), within 0…255: a
/// range of one or two, so the search allocates nothing per block.
private func codeCandidates(_ value: Float, _ unit: Float) -> (lo: UInt8, hi: UInt8) {
    guard unit > 0, value > 0 else { return (0, 0) }
    let r = value / unit
    return (UInt8(max(0, min(255, r.rounded(.down)))), UInt8(max(0, min(255, r.rounded(.up)))))
}

/// The (d ≥ 0, m ≥ 0) of `v[i] ≈ d·n_i − m`, n_i ∈ 0…15, of least weighted squared error
/// Σ wᵢ (vᵢ − x̂ᵢ)² over `v[0..<count]` among the searched grids.
private func fitBlock(_ v: [Float], _ w: [Float], count: Int) -> (d: Float, m: Float) {
    var lo: Float = 0, hi: Float = 0
    for i in 0..<count { lo = min(lo, v[i]); hi = max(hi, v[i]) }
    guard hi > lo, lo.isFinite, hi.isFinite else { return (0, max(0, -lo)) }
    // The plain grid: 16 levels from lo to hi.
    var best = (d: (hi - lo) / 15, m: -lo)
    var bestErr = blockError(v, w, count: count, d: best.d, m: best.m)
    for step in -10...10 {
        let iscale = (15 + 0.1 * Float(step)) / (hi - lo)
        // Weighted least squares of v ≈ d·n − m for the grid's rounded levels n.
        var sw: Float = 0, sn: Float = 0, snn: Float = 0, sx: Float = 0, snx: Float = 0
        for i in 0..<count {
            let n = max(0, min(15, ((v[i] - lo) * iscale).rounded(.toNearestOrEven)))
            sw += w[i]; sn += w[i] * n; snn += w[i] * n * n; sx += w[i] * v[i]; snx += w[i] * n * v[i]
        }
        let det = sw * snn - sn * sn
        guard det > 0 else { continue }
        var d = (sw * snx - sn * sx) / det
        var m = -(snn * sx - sn * snx) / det
        if m < 0 { m = 0; d = snn > 0 ? snx / snn : 0 }  // the minimum may only lower the grid
        guard d > 0, d.isFinite, m.isFinite else { continue }
        let err = blockError(v, w, count: count, d: d, m: m)
        if err < bestErr { bestErr = err; best = (d, m) }
    }
    return best
}

/// Σ wᵢ (vᵢ − x̂ᵢ)² with each element on its nearest level of `d·n − m`.
private func blockError(_ v: [Float], _ w: [Float], count: Int, d: Float, m: Float) -> Float {
    var err: Float = 0
    for i in 0..<count {
        let e = v[i] - (Float(nearestLevel(v[i], ds: d, ms: m)) * d - m)
        err += w[i] * e * e
    }
    return err
}
