// Microbenchmarks of the kernels, one per kernel and weight type, so that a regression shows
// up by name: `swift package --allow-writing-to-package-directory benchmark` (release build).
// Shapes are Mamba-130m's (d_model 768, inner 1536) and the SAMBA/TransNormer fixtures'; the
// matrices fit in L2/L3, so these measure compute, not DRAM bandwidth (`rill bench` does that).
import Benchmark
import RillFormat
import RillKernels
import RillModels

/// Deterministic pseudo-random floats in [−1, 1).
func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
    var s = seed
    return (0..<n).map { _ in
        s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int32(truncatingIfNeeded: s >> 32)) / Float(Int32.max)
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 10,
        maxDuration: .seconds(2), maxIterations: 100_000)

    // MARK: Mat-vec, 1536 × 768 (Mamba-130m's out_proj transposed: in_proj half)
    let rows = 1536, cols = 768
    let x = randomFloats(cols, seed: 1)
    for type in [QuantType.f32, .f16, .int8, .int4] {
        let w = OwnedTensor(name: "w", shape: [rows, cols], type: type, values: randomFloats(rows * cols, seed: 2))
        Benchmark("matVec \(type) 1536x768 float activations") { benchmark in
            var y = [Float](repeating: 0, count: rows)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    for _ in benchmark.scaledIterations {
                        matVec(w.view, xp.baseAddress!, yp.baseAddress!, rows: 0..<rows)
                    }
                }
            }
            blackHole(y)
        }
        if type == .int8 || type == .int4 {
            let q = ActivationsQ8(maxCols: cols)
            Benchmark("matVecQ8 \(type) 1536x768 int8 activations (\(integerKernelISA))") { benchmark in
                var y = [Float](repeating: 0, count: rows)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        for _ in benchmark.scaledIterations {
                            q.quantize(xp.baseAddress!, cols: cols)
                            matVecQ8(w.view, q, yp.baseAddress!, rows: 0..<rows)
                        }
                    }
                }
                blackHole(y)
            }
        }
    }

    // MARK: Mat-vec out of cache: Mamba-130m's tied head, 50,280 × 768 (41 MB at int8), one
    // thread: how close the kernel streams to one core's DRAM bandwidth.
    let headRows = 50_280
    for type in [QuantType.int8, .int4] {
        let w = OwnedTensor(name: "head", shape: [headRows, cols], type: type, values: randomFloats(headRows * cols, seed: 14))
        let q = ActivationsQ8(maxCols: cols)
        Benchmark("matVecQ8 \(type) 50280x768 head, from DRAM",
                  configuration: .init(metrics: [.wallClock, .throughput], warmupIterations: 2, maxDuration: .seconds(3))) { benchmark in
            var y = [Float](repeating: 0, count: headRows)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    for _ in benchmark.scaledIterations {
                        q.quantize(xp.baseAddress!, cols: cols)
                        matVecQ8(w.view, q, yp.baseAddress!, rows: 0..<headRows)
                    }
                }
            }
            blackHole(y)
        }
    }

    // MARK: Mamba scan step, inner 1536, state 16
    let e = 1536, n = 16
    let delta = randomFloats(e, seed: 3).map { abs($0) * 0.1 }, a = randomFloats(e * n, seed: 4).map { -abs($0) }
    let bv = randomFloats(n, seed: 5), cv = randomFloats(n, seed: 6), dv = randomFloats(e, seed: 7)
    let input = randomFloats(e, seed: 8)
    Benchmark("selectiveScanStep 1536x16") { benchmark in
        var state = [Float](repeating: 0, count: e * n), out = [Float](repeating: 0, count: e)
        for _ in benchmark.scaledIterations {
            selectiveScanStep(state: &state, delta: delta, a: a, b: bv, c: cv, d: dv, input: input, output: &out,
                              stateSize: n, channels: 0..<e)
        }
        blackHole(out)
    }

    // MARK: Sliding-window attention, 16 heads, 4 KV heads, head 64, window 2048 (full ring)
    let heads = 16, kvHeads = 4, dim = 64, window = 2048
    let kvInit = randomFloats(window * kvHeads * dim, seed: 9)
    let q = randomFloats(heads * dim, seed: 10)
    for type in KVCacheType.allCases {
        let ring = KVRing(window: window, kvDim: kvHeads * dim, type: type)
        for slot in 0..<window {
            kvInit.withUnsafeBufferPointer { kv in
                let row = kv.baseAddress! + slot * kvHeads * dim
                ring.write(slot: slot, key: row, value: row)
            }
        }
        // The f32 ring keeps the name it had before f16 rings existed, so its history goes on.
        let name = type == .f32 ? "windowAttention 16h/4kv x64, window 2048" : "windowAttention 16h/4kv x64, window 2048, f16 ring"
        Benchmark(name) { benchmark in
            var out = [Float](repeating: 0, count: heads * dim), scores = [Float](repeating: 0, count: heads * window)
            for _ in benchmark.scaledIterations {
                windowAttention(q: q, ring: ring, position: 10 * window, heads: heads, kvHeads: kvHeads, headDim: dim,
                                out: &out, scores: &scores)
            }
            blackHole(out)
        }
    }

    // MARK: Lightning attention block, 64 tokens, head 128 (TransNormer-385m) with LRPE (dk 256)
    let t = 64, dk = 256, dvh = 128
    let qb = randomFloats(t * dk, seed: 11), kb = randomFloats(t * dk, seed: 12), vb = randomFloats(t * dvh, seed: 13)
    Benchmark("lightningBlock t64 dk256 dv128") { benchmark in
        var kv = [Float](repeating: 0, count: dk * dvh), out = [Float](repeating: 0, count: t * dvh)
        var scores = [Float](repeating: 0, count: t * t), qs = qb, ks = kb
        for _ in benchmark.scaledIterations {
            // The block scales q and k in place: restore them (a copy of 32K floats, small
            // against the block's four GEMMs) so every iteration sees the same inputs.
            for i in 0..<qs.count { qs[i] = qb[i]; ks[i] = kb[i] }
            lightningBlock(state: &kv, q: &qs, k: &ks, v: vb, ldv: dvh, out: &out, ldo: dvh, scores: &scores,
                           slope: 0.05, t: t, dk: dk, dv: dvh)
        }
        blackHole(out)
    }
    Benchmark("linearAttentionStep dk256 dv128") { benchmark in
        var kv = [Float](repeating: 0, count: dk * dvh), out = [Float](repeating: 0, count: dvh)
        for _ in benchmark.scaledIterations {
            linearAttentionStep(state: &kv, q: qb, k: kb, v: vb, out: &out, lambda: 0.95, dk: dk, dv: dvh)
        }
        blackHole(out)
    }
}
