// INTERIM: plain versions of the ops the models call, until RillKernels provides them.
import COpenBLAS
import Dispatch
import Foundation
import RillFormat
import RillKernels

public final class ThreadPool: @unchecked Sendable {
    public let threadCount: Int
    public static var defaultThreadCount: Int { ProcessInfo.processInfo.activeProcessorCount }
    public init(threads: Int) { threadCount = max(1, threads) }
    public func parallelRanges(_ total: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let chunks = min(threadCount, max(1, (total + grain - 1) / grain))
        if chunks <= 1 { body(0..<total); return }
        let per = (total + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = c * per, hi = min(total, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }
}

public func matVecParallel(pool: ThreadPool, w: TensorView, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
    pool.parallelRanges(w.rows, grain: 64) { r in matVec(w, x, y, rows: r) }
}

public func gemmTileFloats(maxCols: Int) -> Int { 64 * ((maxCols + 31) / 32 * 32) }

/// c (t, rows) = a (t, cols) · Wᵀ
public func gemmRows(_ w: TensorView, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int, t: Int, tile: Buffer, pool: ThreadPool) {
    let cols = w.cols
    if w.type == .f32 {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(w.rows), Int32(cols), 1, a, Int32(lda), w.f32, Int32(cols), 0, c, Int32(ldc))
        return
    }
    let tileRows = max(1, tile.count / cols)
    var r0 = 0
    while r0 < w.rows {
        let n = min(tileRows, w.rows - r0)
        for r in 0..<n {
            w.dequantizeRow(r0 + r, into: UnsafeMutableBufferPointer(start: tile.pointer + r * cols, count: cols))
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(t), Int32(n), Int32(cols), 1, a, Int32(lda), tile.pointer, Int32(cols), 0, c + r0, Int32(ldc))
        r0 += n
    }
}

public func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float, out: UnsafeMutablePointer<Float>, count n: Int) {
    var ss: Float = 0
    for i in 0..<n { ss += x[i] * x[i] }
    let r = 1 / (ss / Float(n) + eps).squareRoot()
    for i in 0..<n { out[i] = x[i] * r * weight[i] }
}

public func simpleRMSNorm(_ x: UnsafePointer<Float>, eps: Float, out: UnsafeMutablePointer<Float>, count n: Int) {
    var ss: Float = 0
    for i in 0..<n { ss += x[i] * x[i] }
    let r = 1 / (ss / Float(n) + eps).squareRoot()
    for i in 0..<n { out[i] = x[i] * r }
}

public func silu(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n { x[i] = x[i] / (1 + expf(-x[i])) }
}

public func siluGate(_ y: UnsafeMutablePointer<Float>, gate z: UnsafePointer<Float>, count n: Int) {
    for i in 0..<n { y[i] *= z[i] / (1 + expf(-z[i])) }
}

public func softplus(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n { x[i] = x[i] > 20 ? x[i] : log1pf(expf(x[i])) }
}

public func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int) {
    for i in 0..<n { y[i] += x[i] }
}

public func mul(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count n: Int) {
    for i in 0..<n { y[i] *= x[i] }
}

public func scale(_ y: UnsafeMutablePointer<Float>, by s: Float, count n: Int) {
    for i in 0..<n { y[i] *= s }
}

/// window (E, K−1) oldest first; output may alias input.
public func causalConvStep(weights w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, window: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, channels e: Int, kernel k: Int) {
    for c in 0..<e {
        let win = window + c * (k - 1)
        let wc = w + c * k
        let u = input[c]
        var s = bias?[c] ?? 0
        for j in 0..<(k - 1) { s += wc[j] * win[j] }
        s += wc[k - 1] * u
        if k > 1 {
            for j in 0..<(k - 2) { win[j] = win[j + 1] }
            win[k - 2] = u
        }
        output[c] = s
    }
}

public func selectiveScanStep(state h: UnsafeMutablePointer<Float>, delta: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafePointer<Float>, d: UnsafePointer<Float>, u: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, stateSize n: Int, channels: Range<Int>) {
    for ch in channels {
        let dt = delta[ch], uc = u[ch]
        let hc = h + ch * n, ac = a + ch * n
        var acc: Float = 0
        for j in 0..<n {
            let nh = expf(dt * ac[j]) * hc[j] + dt * b[j] * uc
            hc[j] = nh
            acc += nh * c[j]
        }
        y[ch] = acc + d[ch] * uc
    }
}
