import RillFormat
import RillKernels

/// Weights of one Mamba-1 mixer (`DESIGN.md` §3.1), shared by Mamba and SAMBA.
/// E = d_inner, N = state size, R = dt rank, K = conv length.
struct MambaMixerWeights: @unchecked Sendable {
    let d: Int, e: Int, n: Int, r: Int, k: Int
    /// (2E, d): rows 0..<E give u, rows E..<2E give the gate z.
    let inProj: TensorView
    let inBias: FloatTensor?
    /// (E, K) depthwise causal conv, tap K−1 multiplies the newest input.
    let convW: FloatTensor
    let convB: FloatTensor?
    /// (R + 2N, E): rows 0..<R give δ, then B (N), then C (N).
    let xProj: TensorView
    /// (E, R) and bias (E): Δ = softplus(dt_proj(δ) + bias).
    let dtProj: TensorView
    let dtBias: FloatTensor
    /// (E, N): A = −exp(A_log), precomputed by the converter.
    let a: FloatTensor
    /// (E)
    let dSkip: FloatTensor
    /// (d, E)
    let outProj: TensorView
    let outBias: FloatTensor?

    init(file: RillFile, prefix p: String, d: Int, e: Int, n: Int, r: Int, k: Int, convBias: Bool, bias: Bool) throws(RillFileError) {
        self.d = d; self.e = e; self.n = n; self.r = r; self.k = k
        inProj = try file.tensor(p + "in_proj.weight", shape: [2 * e, d])
        inBias = bias ? try FloatTensor.load(file, p + "in_proj.bias", shape: [2 * e]) : nil
        convW = try FloatTensor.load(file, p + "conv1d.weight", shape: [e, k])
        convB = convBias ? try FloatTensor.load(file, p + "conv1d.bias", shape: [e]) : nil
        xProj = try file.tensor(p + "x_proj.weight", shape: [r + 2 * n, e])
        dtProj = try file.tensor(p + "dt_proj.weight", shape: [e, r])
        dtBias = try FloatTensor.load(file, p + "dt_proj.bias", shape: [e])
        a = try FloatTensor.load(file, p + "A", shape: [e, n])
        dSkip = try FloatTensor.load(file, p + "D", shape: [e])
        outProj = try file.tensor(p + "out_proj.weight", shape: [d, e])
        outBias = bias ? try FloatTensor.load(file, p + "out_proj.bias", shape: [d]) : nil
    }

    var matrixBytes: Int {
        inProj.layout.byteCount + xProj.layout.byteCount + dtProj.layout.byteCount + outProj.layout.byteCount
    }
}

/// One Mamba mixer's recurrent state: the last K−1 conv inputs and the SSM state, f32.
final class MambaMixerState {
    /// (E, K−1): per channel the K−1 most recent inputs, oldest first.
    let conv: Buffer
    /// (E, N)
    let ssm: Buffer

    init(_ w: MambaMixerWeights) {
        conv = Buffer(w.e * (w.k - 1))
        ssm = Buffer(w.e * w.n)
    }

    func reset() {
        conv.zero()
        ssm.zero()
    }

    var bytes: Int { (conv.count + ssm.count) * 4 }
}

/// Scratch for a chunk of up to `chunk` tokens, shared by all Mamba layers of a context.
final class MambaMixerScratch {
    let chunk: Int
    /// (T, 2E) in_proj output; u is converted in place to the conv output.
    let xz: Buffer
    /// (T, R + 2N)
    let dbc: Buffer
    /// (T, E) Δ, then y.
    let dt: Buffer
    let y: Buffer
    let ws: Workspace

    init(_ w: MambaMixerWeights, chunk: Int, workspace: Workspace) {
        self.chunk = chunk
        xz = Buffer(chunk * 2 * w.e)
        dbc = Buffer(chunk * (w.r + 2 * w.n))
        dt = Buffer(chunk * w.e)
        y = Buffer(chunk * w.e)
        ws = workspace
    }
}

/// The mixer over `t` tokens: `x` (T, d) already normalised, `out` (T, d) receives the mixer
/// output (not yet added to the residual). With t == 1 the projections are mat-vecs; with
/// more, tiled GEMMs. The conv and the scan run token by token in both cases, so the two paths
/// do the same arithmetic per token up to the summation order of the projections.
func mambaMixer(
    _ w: MambaMixerWeights, _ s: MambaMixerState, _ sc: MambaMixerScratch,
    x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, t: Int, pool: ThreadPool
) {
    let e = w.e, n = w.n, r = w.r, twoE = 2 * e, dbcW = r + 2 * n
    let xz = sc.xz.pointer, dbc = sc.dbc.pointer, dt = sc.dt.pointer, y = sc.y.pointer

    // [u, z] = in_proj(x)
    project(w.inProj, x, xz, t: t, bias: w.inBias, ws: sc.ws, pool: pool)

    // u' = SiLU(causal depthwise conv(u)), token by token through the window state.
    convSequence(
        window: s.conv.pointer, weight: w.convW.pointer, bias: w.convB?.pointer, input: xz, inputStride: twoE,
        output: xz, outputStride: twoE, tokens: t, kernelSize: w.k, channels: 0..<e)

    // [δ, B, C] = x_proj(u'); Δ = softplus(dt_proj(δ) + bias).
    if t == 1 {
        matVec(w.xProj, xz, dbc, ws: sc.ws, pool: pool)
        matVec(w.dtProj, dbc, dt, ws: sc.ws, pool: pool)
    } else {
        gemmRows(w.xProj, a: xz, lda: twoE, c: dbc, ldc: dbcW, t: t, ws: sc.ws, pool: pool)
        gemmRows(w.dtProj, a: dbc, lda: dbcW, c: dt, ldc: e, t: t, ws: sc.ws, pool: pool)
    }
    // Δ = softplus(dt_proj(δ) + bias), the selective scan and y ⊙ SiLU(z), token by token;
    // channels split across threads (all three are per channel, and on one thread the
    // softplus alone was 3 % of decode time), then out_proj.
    pool.parallelRows(total: e, ScanTask(
        state: s.ssm.pointer, dt: dt, dtBias: w.dtBias.pointer, a: w.a.pointer, dbc: dbc, dSkip: w.dSkip.pointer,
        u: xz, z: xz + e, y: y, t: t, e: e, n: n, r: r, dbcWidth: dbcW, uStride: twoE))
    project(w.outProj, y, out, t: t, bias: w.outBias, ws: sc.ws, pool: pool, lda: e)
}

/// Δ, the scan and the gate over a chunk for one range of channels (a value type, so handing
/// it to the pool allocates nothing).
struct ScanTask: ParallelRowsTask {
    let state: UnsafeMutablePointer<Float>
    /// dt_proj's output, turned into Δ in place.
    let dt: UnsafeMutablePointer<Float>
    let dtBias: UnsafePointer<Float>, a: UnsafePointer<Float>, dbc: UnsafePointer<Float>, dSkip: UnsafePointer<Float>
    /// u and the gate z, rows `uStride` apart; z is overwritten by SiLU(z).
    let u: UnsafePointer<Float>, z: UnsafeMutablePointer<Float>
    let y: UnsafeMutablePointer<Float>
    let t: Int, e: Int, n: Int, r: Int, dbcWidth: Int, uStride: Int

    func run(rows range: Range<Int>) {
        let c0 = range.lowerBound, width = range.count
        for i in 0..<t {
            let delta = dt + i * e
            addInPlace(delta + c0, dtBias + c0, count: width)
            softplus(delta + c0, count: width)
            let bc = dbc + i * dbcWidth + r
            selectiveScanStep(
                state: state, delta: delta, a: a, b: bc, c: bc + n, d: dSkip, input: u + i * uStride,
                output: y + i * e, stateSize: n, channels: range)
            let zi = z + i * uStride + c0
            silu(zi, count: width)
            mulInPlace(y + i * e + c0, zi, count: width)
        }
    }
}
