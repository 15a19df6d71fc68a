import RillFormat

/// The mean square of each input column of each projection while a model runs over text:
/// llama.cpp's importance matrix, which `rill convert --calibrate` gives the int4k search so
/// that it spends its error on the columns that multiply small activations.
///
/// Recorded on the thread that calls a projection (before the pool splits it), so it needs no
/// lock; one instance belongs to one context. Its arrays are made the first time a tensor is
/// seen, once per tensor: it is for calibration runs, not for serving.
public final class ActivationStatistics {
    private var sums: [String: [Double]] = [:]
    private var rows: [String: Int] = [:]

    public init() {}

    /// Adds `t` input rows of `w.cols` floats, `lda` apart.
    func record(_ w: TensorView, _ x: UnsafePointer<Float>, lda: Int, rows t: Int) {
        let n = w.cols
        var s = sums[w.name] ?? [Double](repeating: 0, count: n)
        s.withUnsafeMutableBufferPointer { acc in
            for i in 0..<t {
                let row = x + i * lda
                for j in 0..<n { acc[j] += Double(row[j] * row[j]) }
            }
        }
        sums[w.name] = s
        rows[w.name, default: 0] += t
    }

    /// Names of the tensors seen so far.
    public var tensorNames: [String] { sums.keys.sorted() }

    /// Input rows seen by `name`'s projection.
    public func rowsSeen(_ name: String) -> Int { rows[name] ?? 0 }

    /// Each column's mean square input for every tensor seen.
    public var meanSquares: [String: [Float]] {
        sums.reduce(into: [:]) { out, kv in
            let n = Double(max(rows[kv.key] ?? 1, 1))
            out[kv.key] = kv.value.map { Float($0 / n) }
        }
    }
}
