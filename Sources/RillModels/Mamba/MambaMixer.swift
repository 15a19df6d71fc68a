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
/// output (not yet added to the residual). With t == 1 the projections are mat-vecs on
/// quantised activations (``mambaMixerStep``); with more, tiled GEMMs. The conv and the scan
/// run token by token in both cases, so the two paths do the same arithmetic per token up to
/// the projections' rounding.
func mambaMixer(
    _ w: MambaMixerWeights, _ s: MambaMixerState, _ sc: MambaMixerScratch,
    x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, t: Int, pool: ThreadPool
) {
    if t == 1 {
        mambaMixerStep(w, s, sc, x: x, out: out, pool: pool)
        return
    }
    let e = w.e, n = w.n, r = w.r, twoE = 2 * e, dbcW = r + 2 * n
    let xz = sc.xz.pointer, dbc = sc.dbc.pointer, dt = sc.dt.pointer, y = sc.y.pointer

    // [u, z] = in_proj(x)
    project(w.inProj, x, xz, t: t, bias: w.inBias, ws: sc.ws, pool: pool)

    // u' = SiLU(causal depthwise conv(u)), token by token through the window state.
    convSequence(
        window: s.conv.pointer, weight: w.convW.pointer, bias: w.convB?.pointer, input: xz, inputStride: twoE,
        output: xz, outputStride: twoE, tokens: t, kernelSize: w.k, channels: 0..<e)

    // [δ, B, C] = x_proj(u'); dt_proj(δ).
    gemmRows(w.xProj, a: xz, lda: twoE, c: dbc, ldc: dbcW, t: t, ws: sc.ws, pool: pool)
    gemmRows(w.dtProj, a: dbc, lda: dbcW, c: dt, ldc: e, t: t, ws: sc.ws, pool: pool)
    // Δ = softplus(dt_proj(δ) + bias), the selective scan and y ⊙ SiLU(z), token by token;
    // channels split across threads (all three are per channel), then out_proj.
    pool.parallelRows(total: e, ScanTask(
        state: s.ssm.pointer, dt: dt, dtBias: w.dtBias.pointer, a: w.a.pointer, dbc: dbc, dSkip: w.dSkip.pointer,
        u: xz, z: xz + e, y: y, t: t, e: e, n: n, r: r, dbcWidth: dbcW, uStride: twoE, step: nil))
    project(w.outProj, y, out, t: t, bias: w.outBias, ws: sc.ws, pool: pool, lda: e)
}

/// One decode token of the mixer in four pool calls, every per-channel step inside them:
///
/// 1. per channel range: in_proj's u and z rows of those channels, the conv and SiLU of u,
///    and x_proj's input blocks of those channels;
/// 2. x_proj;
/// 3. per channel range: dt_proj's rows, Δ, the scan, the gate, and out_proj's input blocks;
/// 4. out_proj.
///
/// Channel ranges start at multiples of 32, so each task quantises whole blocks. Separate
/// calls for dt_proj and for the conv on the calling thread cost Mamba-130M 16 µs per layer.
/// The calling thread quantises only the mixer's input (d elements) and δ (R).
func mambaMixerStep(
    _ w: MambaMixerWeights, _ s: MambaMixerState, _ sc: MambaMixerScratch,
    x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, pool: ThreadPool
) {
    let e = w.e, n = w.n, r = w.r, dbcW = r + 2 * n, bs = QuantType.blockSize
    let xz = sc.xz.pointer, dbc = sc.dbc.pointer, dt = sc.dt.pointer, y = sc.y.pointer
    let first = sc.ws.input, second = sc.ws.nextInput
    first.begin(for: w.inProj)
    first.quantize(for: w.inProj, x, elements: 0..<w.inProj.cols)
    second.begin(for: w.xProj)
    pool.parallelRows(total: e, alignment: bs, InProjConvTask(w: w, window: s.conv.pointer, x: x, input: first, next: second, xz: xz))
    second.matVec(w.xProj, xz, dbc, pool: pool)
    // δ (R values) quantised once here for dt_proj's rows in the scan tasks: x_proj's input is
    // no longer needed. (dt_proj in float on each thread was 5 % of Mamba-130M decode.)
    second.begin(for: w.dtProj)
    second.quantize(for: w.dtProj, dbc, elements: 0..<r)
    first.begin(for: w.outProj)
    pool.parallelRows(total: e, alignment: bs, ScanTask(
        state: s.ssm.pointer, dt: dt, dtBias: w.dtBias.pointer, a: w.a.pointer, dbc: dbc, dSkip: w.dSkip.pointer,
        u: xz, z: xz + e, y: y, t: 1, e: e, n: n, r: r, dbcWidth: dbcW, uStride: 2 * e,
        step: ScanTask.Step(dtProj: w.dtProj, dtInput: second, outProj: w.outProj, outInput: first)))
    first.matVec(w.outProj, y, out, pool: pool)
    if let b = w.outBias { addInPlace(out, b.pointer, count: w.d) }
}

/// Step 1 of ``mambaMixerStep``: for a range of channels, in_proj's u and z rows, the conv
/// with SiLU, and x_proj's input blocks.
struct InProjConvTask: ParallelRowsTask {
    let w: MambaMixerWeights
    let window: UnsafeMutablePointer<Float>
    let x: UnsafePointer<Float>
    /// in_proj's input (quantised), x_proj's (filled here).
    let input: MatVecInput, next: MatVecInput
    /// (2E): u then z; u becomes the conv output.
    let xz: UnsafeMutablePointer<Float>

    func run(rows channels: Range<Int>) {
        let e = w.e, width = channels.count
        input.matVec(w.inProj, x, xz, rows: channels)
        input.matVec(w.inProj, x, xz, rows: (e + channels.lowerBound)..<(e + channels.upperBound))
        if let b = w.inBias {
            addInPlace(xz + channels.lowerBound, b.pointer + channels.lowerBound, count: width)
            addInPlace(xz + e + channels.lowerBound, b.pointer + e + channels.lowerBound, count: width)
        }
        convStep(window: window, weight: w.convW.pointer, bias: w.convB?.pointer, input: xz, output: xz,
                 kernelSize: w.k, channels: channels)
        next.quantize(for: w.xProj, xz, elements: channels)
    }
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
    /// Decode (t = 1) only: dt_proj's rows are computed here, and y is quantised for out_proj.
    let step: Step?

    struct Step {
        /// dt_proj and δ in the form it multiplies.
        let dtProj: TensorView, dtInput: MatVecInput
        /// out_proj and the input that y's blocks are quantised into.
        let outProj: TensorView, outInput: MatVecInput
    }

    func run(rows range: Range<Int>) {
        let c0 = range.lowerBound, width = range.count
        if let step { step.dtInput.matVec(step.dtProj, dbc, dt, rows: range) }
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
        if let step { step.outInput.quantize(for: step.outProj, y, elements: range) }
    }
}
