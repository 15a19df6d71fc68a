import CRillKernels
import RillFormat

// The int8-activation mat-vec (ggml's vec_dot_q8_0_q8_0 / q4_0_q8_0): x is quantised once per
// mat-vec to int8 blocks of 32 with a scale each, then every block of every row is an integer
// dot product with one float multiply (by d_w · d_x) per block.
//
// Measured against the float-activation kernels (MatVecBlocks.swift) with a throwaway
// release-mode harness, one thread, on a shared 2-core AMD EPYC (Zen 1) VM, fastest of 40
// rounds, GB/s of weight bytes (quants + scales; the matrices fit in cache, so this is
// compute, not DRAM bandwidth), quantising x included:
//
//                         default build (SSE2)      -target-cpu haswell (AVX2)
//                         float-act   int8-act      float-act   int8-act
//     768×2048  int8        3.6         4.7           5.4         6.3
//     768×2048  int4        1.1         1.8           2.4         3.4
//     2048×768  int8        3.6         4.6           5.3         6.2
//     2048×768  int4        1.0         1.8           2.4         3.4
//
// Quantising x costs 2.1 µs for 2048 columns, 0.8 µs for 768 (included above). Products in
// Int32 instead of Int16 ran 20–35 % slower with AVX2 (vpmulld).
//
// On arm64 (IR retargeted to cortex-a76) the int8 block is 4 smull + 4 saddw per row, against
// 8 sign-extending shuffles, 8 scvtf, 8 fmul and 8 fadd for the float-activation block.
//
// Disassembly of the hot loop per block and row, int8 weights, haswell: 4 × (vpmovsxbw mem,
// vpmullw, vpmovsxwd), 3 vpaddd, vcvtdq2ps, vmulss + vbroadcastss (d_w · d_x), vmulps, vaddps;
// the activation's 4 vpmovsxbw are shared by the 4 rows of a pass; no calls. For int4 LLVM
// proves the products and their sums fit in Int16 (|(n − 8) · q| ≤ 1024) and adds them there
// (vpaddw) before one widening. Baseline SSE2: the same with punpcklbw/psraw widening and
// pmullw; no calls.

// MARK: - Quantised activations

/// int8 activation blocks, as ``quantizeRowInt8(_:quants:scales:)`` quantises weights:
/// `d = max|x| / 127`, `q = round(x / d)` (ties to even).
public enum Int8ActivationQuant: ActivationQuant {
    public static func quantize(
        _ x: UnsafePointer<Float>, count cols: Int, quants: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>
    ) {
        let bs = QuantType.blockSize
        let blocks = 0..<((cols + bs - 1) / bs)
        let tail = blocks.upperBound * bs > cols ? tailActivations(x, cols: cols) : ActivationBlock(v: (.zero, .zero, .zero, .zero))
        for b in blocks {
            let xb = b * bs + bs <= cols ? loadActivations(x, at: b * bs) : tail
            // max|x| lane-wise, then across lanes; `x · 0` is NaN exactly when x is ±∞ or NaN,
            // and makes the scale NaN so that the rows' results are NaN, as in `matVec`.
            var m = magnitude(xb[0])
            m = pointwiseMaximum(m, magnitude(xb[1]))
            m = pointwiseMaximum(m, magnitude(xb[2]))
            m = pointwiseMaximum(m, magnitude(xb[3]))
            var amax: Float = 0
            for i in 0..<8 { amax = Swift.max(amax, m[i]) }
            // `zero` typed: with a literal 0 Swift 6.0 type-checks this line for 20 s.
            let zero: Float = 0
            let poison = ((xb[0] * zero + xb[1] * zero) + (xb[2] * zero + xb[3] * zero)).sum()
            let d = amax / 127
            let id: Float = d >= .leastNormalMagnitude ? 1 / d : 0  // a subnormal d would overflow 1/d
            scales[b] = d + poison
            let q = UnsafeMutableRawPointer(quants + b * bs)
            for k in 0..<4 {
                q.storeBytes(of: roundToInt8(xb[k] * id), toByteOffset: 8 * k, as: SIMD8<Int8>.self)
            }
        }
    }
}

/// Activations quantised to int8 blocks of 32 (see ``QuantisedActivations``).
public typealias ActivationsQ8 = QuantisedActivations<Int8ActivationQuant>

/// `|v[i]|`, by clearing the sign bits.
@inline(__always)
func magnitude(_ v: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
}

/// `max(a[i], b[i])` lane-wise for non-NaN lanes, without the generic `pointwiseMax` call.
@inline(__always)
func pointwiseMaximum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    a.replacing(with: b, where: b .> a)
}

/// Rounds `v` (|v| ≤ 127) to the nearest integer, ties to even, without a float → int
/// conversion instruction: adding 1.5·2²³ leaves `round(v)` in the low mantissa bits.
/// (Swift's generic `SIMD8<Int32>(_: SIMD8<Float>)` compiles to a lane-by-lane loop.)
@inline(__always)
func roundToInt8(_ v: SIMD8<Float>) -> SIMD8<Int8> {
    let magic: Float = 12_582_912  // 1.5 · 2²³
    let bits = unsafeBitCast(v + magic, to: SIMD8<Int32>.self) &- Int32(bitPattern: magic.bitPattern)
    return narrowToInt8(bits)
}

// MARK: - Mat-vec

/// `y[r] = Σ_b (d_w[r, b] · d_x[b]) · Σ_{i<32} q_w[r, b, i] · q_x[b, i]` for `r` in `rows`:
/// the int8-activation product of int8 or int4 weights `W (rows, cols)` with the
/// ``ActivationsQ8`` made from `x (cols,)` by ``ActivationsQ8/quantize(_:cols:)``.
///
/// The sum per block is exact; blocks add up in `Float`. The error against the exact `W·x`
/// adds the rounding of `x` (≤ `d_x / 2` per element) to that of the weights. The loop is C
/// (`CRillKernels`): the byte multiply-adds it needs (vpmaddubsw, vpdpbusd, sdot) are not
/// reachable from Swift's SIMD types, whose widening products ran 2–4× slower here (see the
/// table above; README's performance section for the decode figures).
/// Precondition: `x.cols == w.cols`, `w` is int8 or int4, `rows ⊆ 0..<w.rows`.
public func matVecQ8(_ w: TensorView, _ x: ActivationsQ8, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    precondition(w.type.isBlockQuantised && x.cols == w.cols, "\(w.name): \(w.type) × \(x.cols) activations")
    precondition(rows.lowerBound >= 0 && rows.upperBound <= w.rows, "\(w.name): rows \(rows) outside 0..<\(w.rows)")
    if rows.isEmpty { return }
    let nb = w.layout.blocksPerRow
    // The view checked at open that every group of the tensor lies inside the mapping.
    let groups = w.base.assumingMemoryBound(to: UInt8.self)
    switch w.type {
    case .int8: rill_matvec_q8_q8(groups, x.quants, x.scales, nb, rows.lowerBound, rows.upperBound, y)
    case .int4: rill_matvec_q4_q8(groups, x.quants, x.scales, nb, rows.lowerBound, rows.upperBound, y)
    case .int4k: rill_matvec_q4k_q8(groups, x.quants, x.scales, nb, rows.lowerBound, rows.upperBound, y)
    case .f32, .f16: preconditionFailure("\(w.name): int8 activations need block-quantised weights")
    }
}

/// The instruction set the C kernels were built for (`avx512vnni`, `avxvnni`, `avx2`,
/// `neon-dotprod`, `neon` or `scalar`), for `rill bench` and bug reports.
public var integerKernelISA: String { String(cString: rill_kernels_isa()) }

/// Scalar twin of ``matVecQ8(_:_:_:rows:)``: per block an `Int32` sum of products, times
/// `d_w · d_x`, blocks summed left to right in `Float`.
public func matVecQ8Reference(_ w: TensorView, _ x: ActivationsQ8, _ y: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    precondition(w.type.isBlockQuantised && x.cols == w.cols, "\(w.name): \(w.type) × \(x.cols) activations")
    precondition(rows.lowerBound >= 0 && rows.upperBound <= w.rows, "\(w.name): rows \(rows) outside 0..<\(w.rows)")
    let bs = QuantType.blockSize
    let nb = w.layout.blocksPerRow
    if w.type == .int4k {  // D · Σ_b s·dx·Σ n·q − M · Σ_b m·dx·Σ q, as the C kernel documents
        for r in rows {
            let rs = w.int4KRowScales(row: r)
            var sum: Float = 0, msum: Float = 0
            for b in 0..<nb {
                let (q, s, m) = w.int4KCodes(row: r, block: b)
                var isum: Int32 = 0, xsum: Int32 = 0
                for i in 0..<bs {
                    let byte = q.load(fromByteOffset: i % (bs / 2), as: UInt8.self)
                    let xi = Int32(x.quants[b * bs + i])
                    isum += Int32(i < bs / 2 ? byte & 0x0F : byte >> 4) * xi
                    xsum += xi
                }
                sum += Float(isum) * (Float(s) * x.scales[b])
                msum += Float(xsum) * (Float(m) * x.scales[b])
            }
            y[r] = rs.d * sum - rs.m * msum
        }
        return
    }
    for r in rows {
        var sum: Float = 0
        for b in 0..<nb {
            var isum: Int32 = 0
            let (q, d) = w.block(row: r, block: b)
            for i in 0..<bs {
                let qw: Int32
                if w.type == .int8 {
                    qw = Int32(q.load(fromByteOffset: i, as: Int8.self))
                } else {
                    let byte = q.load(fromByteOffset: i % (bs / 2), as: UInt8.self)
                    qw = Int32(i < bs / 2 ? byte & 0x0F : byte >> 4) - 8
                }
                isum += qw * Int32(x.quants[b * bs + i])
            }
            sum += Float(isum) * (d * x.scales[b])
        }
        y[r] = sum
    }
}
