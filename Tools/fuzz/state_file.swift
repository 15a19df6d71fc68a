import CLZ4
import Foundation
import RillFormat
import RillRuntime

// Input: a mode byte, then the decompressed state bytes (`Formats/state.md` §2). Mode 0: the
// trailing XXH64 is recomputed, then the bytes are framed with LZ4; mode 1: framed as they are;
// mode 2: the rest is the file itself (the LZ4 frame). The state is loaded into a session of
// the tiny Mamba, TransNormerLLM or SAMBA model (the one whose fingerprint it names).

struct Target {
    let session: Session
    let sampler: Sampler
    let fingerprint: UInt64
}

let targets: [Target] = ["mamba", "transnormer", "samba"].map { kind in
    let model = try! Model(path: try! FuzzFixtures.rillPath(kind, .f32))
    var settings = SamplerSettings()
    settings.repeatPenalty = 1.1
    let sampler = Sampler(settings: settings, vocabSize: model.vocabSize)
    let session = Session(model: model, threads: 1)
    return Target(session: session, sampler: sampler, fingerprint: model.file.fingerprint)
}

func frame(_ raw: [UInt8]) -> [UInt8] {
    try! StateFile.lz4Frame(raw, path: "(fuzz input)")
}

func fuzzSeeds() throws -> [[UInt8]] {
    try targets.map { t in
        let prompt: [Int32] = [1, 5, 9, 200, 7]
        prompt.forEach(t.sampler.accept)
        try t.session.prefill(prompt)
        let path = FuzzFile.path("state-seed")
        try StateFile.save(session: t.session, sampler: t.sampler, to: path)
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // The seed is the decompressed state: one LZ4F_decompress call into a large buffer.
        var dctx: OpaquePointer?
        _ = LZ4F_createDecompressionContext(&dctx, UInt32(LZ4F_VERSION))
        defer { LZ4F_freeDecompressionContext(dctx) }
        var raw = [UInt8](repeating: 0, count: 1 << 22)
        var srcSize = file.count, dstSize = raw.count
        _ = file.withUnsafeBytes { src in
            raw.withUnsafeMutableBytes { dst in LZ4F_decompress(dctx, dst.baseAddress, &dstSize, src.baseAddress, &srcSize, nil) }
        }
        return [0] + raw[0..<dstSize]
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let mode = bytes.first else { return 0 }
    var body = Array(bytes.dropFirst())
    if mode % 3 == 0, body.count >= 8 { body.setU64(xxh64(Array(body.dropLast(8))), at: body.count - 8) }
    let file = mode % 3 == 2 ? body : frame(body)
    let fp = body.u64(at: 16)
    let target = targets.first { $0.fingerprint == fp } ?? targets[0]
    let path = FuzzFile.write(file, tag: "state")
    let before = target.session.context.stateBuffers().map { $0.map(\.bitPattern) }
    do {
        try StateFile.load(into: target.session, sampler: target.sampler, from: path)
    } catch {
        // A refused state must leave the session as it was.
        precondition(target.session.context.stateBuffers().map { $0.map(\.bitPattern) } == before, "refused state changed the session")
        return 0
    }
    _ = target.sampler.sample(target.session.logits)
    try? target.session.step(1)
    return 0
}
