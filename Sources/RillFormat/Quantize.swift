// Reference (scalar) quantisation and dequantisation of the block types.
// The converter uses these to write files; the kernels' tests use them as the truth.

// MARK: - int8

/// Quantises one row of `cols` floats into int8 blocks of 32 (`Formats/rill.md` §6.3).
///
/// For each block, `d = max|x| / 127` and `q = round(x / d)`; an all-zero block has `d = 0`,
/// `q = 0`. Elements past `cols` in the last block are zero. The error per element is at most
/// `d / 2`.
public func quantizeRowInt8(
    _ x: UnsafeBufferPointer<Float>, quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>
) {
    let bs = QuantType.blockSize
    let nb = (x.count + bs - 1) / bs
    for b in 0..<nb {
        var amax: Float = 0
        for i in 0..<bs {
            let j = b * bs + i
            if j < x.count { amax = max(amax, abs(x[j])) }
        }
        let d = amax / 127
        // For a subnormal d, 1/d overflows: divide instead (the reference path, not hot).
        let id: Float = d == 0 ? 0 : 1 / d
        scales[b] = d
        for i in 0..<bs {
            let j = b * bs + i
            let v: Float = j < x.count ? (id.isFinite ? x[j] * id : x[j] / d) : 0
            quants[b * bs + i] = Int8(max(-127, min(127, v.rounded(.toNearestOrEven))))
        }
    }
}

/// Inverse of ``quantizeRowInt8(_:quants:scales:)``: writes `out.count` floats.
public func dequantizeRowInt8(
    quants: UnsafePointer<Int8>, scales: UnsafePointer<Float>, out: UnsafeMutableBufferPointer<Float>
) {
    let bs = QuantType.blockSize
    for j in 0..<out.count {
        out[j] = Float(quants[j]) * scales[j / bs]
    }
}

// MARK: - int4

/// Quantises one row into int4 blocks of 32 (`Formats/rill.md` §6.4).
///
/// Byte `i` of a block (i < 16) holds element `i` in its low nibble and element `i + 16` in
/// its high nibble; the value is `(n − 8) · d`. The encoder picks, per block, the scale that
/// minimises the squared error: starting from `d = m / −8` (m the element of largest
/// magnitude, which makes m exact) it tries 19 nearby grids `m / −(8 ± 0.1k)`, rounds, and
/// refits `d = Σ x·q / Σ q²` by least squares — the search llama.cpp's `make_qx_quants` does.
/// Elements past the row's end are encoded as 0 (`n = 8`).
public func quantizeRowInt4(
    _ x: UnsafeBufferPointer<Float>, quants: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>
) {
    let bs = QuantType.blockSize
    let nb = (x.count + bs - 1) / bs
    var v = [Float](repeating: 0, count: bs)
    var q = [Int8](repeating: 0, count: bs)
    var bestQ = [Int8](repeating: 0, count: bs)
    for b in 0..<nb {
        var amax: Float = 0
        var m: Float = 0
        for i in 0..<bs {
            let j = b * bs + i
            v[i] = j < x.count ? x[j] : 0
            if abs(v[i]) > amax { amax = abs(v[i]); m = v[i] }
        }
        var bestD: Float = 0
        var bestErr = Float.infinity
        for i in 0..<bs { bestQ[i] = 0 }
        if amax > 0 {
            // k = 0 first, so that ties keep the plain rule d = m / −8.
            for k in [0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6, -7, 7, -8, 8, -9, 9] {
                let levels = 8 + 0.1 * Float(k)
                let d0 = m / -levels
                var sumXQ: Float = 0, sumQQ: Float = 0
                for i in 0..<bs {
                    let r = d0 != 0 ? (v[i] / d0).rounded(.toNearestOrEven) : 0
                    let qi = Int8(max(-8, min(7, r)))
                    q[i] = qi
                    sumXQ += v[i] * Float(qi)
                    sumQQ += Float(qi) * Float(qi)
                }
                guard sumQQ > 0 else { continue }
                let d = sumXQ / sumQQ
                var err: Float = 0
                for i in 0..<bs {
                    let e = v[i] - d * Float(q[i])
                    err += e * e
                }
                if err < bestErr {
                    bestErr = err
                    bestD = d
                    for i in 0..<bs { bestQ[i] = q[i] }
                }
            }
        }
        scales[b] = bestD
        for i in 0..<(bs / 2) {
            let lo = UInt8(Int(bestQ[i]) + 8), hi = UInt8(Int(bestQ[i + bs / 2]) + 8)
            quants[b * (bs / 2) + i] = lo | (hi << 4)
        }
    }
}

/// Inverse of ``quantizeRowInt4(_:quants:scales:)``: writes `out.count` floats.
public func dequantizeRowInt4(
    quants: UnsafePointer<UInt8>, scales: UnsafePointer<Float>, out: UnsafeMutableBufferPointer<Float>
) {
    let bs = QuantType.blockSize
    for j in 0..<out.count {
        let b = j / bs, i = j % bs
        let byte = quants[b * (bs / 2) + (i % (bs / 2))]
        let n = i < bs / 2 ? byte & 0x0F : byte >> 4
        out[j] = Float(Int(n) - 8) * scales[b]
    }
}
