import CLZ4
import Foundation
import RillFormat
import RillModels
import RillRuntime
import XCTest

/// Hostile state files (`Formats/state.md`): every input restores or throws, and a refused one
/// leaves the session and sampler exactly as they were.
final class StateFileFuzzTests: XCTestCase {
    /// One LZ4 frame with the content checksum and size set, as `StateFile.save` writes.
    static func compress(_ raw: [UInt8]) -> [UInt8] {
        try! StateFile.lz4Frame(raw, path: "(fuzz input)")
    }

    /// The decompressed bytes of a frame `StateFile.save` wrote.
    static func decompress(_ frame: [UInt8]) -> [UInt8] {
        var dctx: OpaquePointer?
        _ = LZ4F_createDecompressionContext(&dctx, UInt32(LZ4F_VERSION))
        defer { LZ4F_freeDecompressionContext(dctx) }
        var out = [UInt8](repeating: 0, count: 1 << 22)
        var srcSize = frame.count, dstSize = out.count
        let rc = frame.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in LZ4F_decompress(dctx, dst.baseAddress, &dstSize, src.baseAddress, &srcSize, nil) }
        }
        precondition(LZ4F_isError(rc) == 0 && rc == 0)
        return Array(out[0..<dstSize])
    }

    struct Target {
        let session: Session
        let sampler: Sampler
        let fingerprint: UInt64
    }

    /// Sessions of the tiny Mamba, TransNormerLLM and SAMBA models, and the raw state of each
    /// after a short prompt with a repetition window (so the recent-token list is not empty).
    static func setUp() throws -> (targets: [Target], raws: [[UInt8]]) {
        var targets: [Target] = [], raws: [[UInt8]] = []
        for kind in ["mamba", "transnormer", "samba"] {
            let model = try Model(path: try FuzzFixtures.rillPath(kind, .f32))
            var settings = SamplerSettings()
            settings.repeatPenalty = 1.1
            settings.seed = 99
            let sampler = Sampler(settings: settings, vocabSize: model.vocabSize)
            let session = Session(model: model, threads: 1)
            let prompt: [Int32] = [1, 5, 9, 200, 7]
            prompt.forEach(sampler.accept)
            try session.prefill(prompt)
            let path = FuzzFile.path("state-seed")
            try StateFile.save(session: session, sampler: sampler, to: path)
            raws.append(decompress([UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))))
            targets.append(Target(session: session, sampler: sampler, fingerprint: model.file.fingerprint))
        }
        return (targets, raws)
    }

    /// Raw-state mutations are followed by a new trailing XXH64 (mostly) and a new frame, so
    /// they reach the field checks; frame mutations exercise the LZ4 decoder's checks.
    static func mutate(_ raw: inout [UInt8], corpus: [[UInt8]], rng: inout SplitMix64) {
        // Corpus entries are raw states; the frame is built in `load`. Byte 0 of the input is
        // a mode byte: 0 = reseal and compress, 1 = compress only, 2 = mutate the frame itself.
        let mode = UInt8(rng.below(10) < 7 ? 0 : rng.below(10) < 5 ? 1 : 2)
        var body = Array(raw.dropFirst())
        if mode == 2 {
            var frame = compress(body)
            for _ in 0..<(1 + rng.below(2)) { Mutator.byteMutation(&frame, corpus: [], rng: &rng) }
            raw = [2] + frame
            return
        }
        if rng.chance(0.6) {
            // A header field (offsets 8…47) set to a boundary value or nudged.
            let field = rng.pick([8, 10, 12, 16, 24, 32, 40, 44])
            let width = field < 12 ? 2 : (field == 12 || field >= 40 ? 4 : 8)
            var v = rng.chance(0.5) ? rng.pick(Mutator.boundaryInts) : body.u64(at: field) &+ UInt64(bitPattern: Int64(rng.below(9) - 4))
            if width < 8 { v &= (UInt64(1) << UInt64(8 * width)) - 1 }
            for i in 0..<width where field + i < body.count { body[field + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
        } else {
            Mutator.byteMutation(&body, corpus: [], rng: &rng)
        }
        if mode == 0, body.count >= 8 { body.setU64(xxh64(Array(body.dropLast(8))), at: body.count - 8) }
        raw = [mode] + body
    }

    /// 50,000 mutated states (about 5 s in release on two cores).
    func testMutatedStateFilesRestoreOrThrowLeavingStateUntouched() throws {
        let (targets, raws) = try Self.setUp()
        let seeds = raws.map { [0] + $0 }
        let stats = runFuzz("state", seeds: seeds, iterations: 50_000, seed: 0x5354_4154, mutate: Self.mutate) { input in
            let mode = input.first ?? 0
            let body = Array(input.dropFirst())
            let frame = mode == 2 ? body : Self.compress(body)
            let fp = body.u64(at: 16)
            let target = targets.first { $0.fingerprint == fp } ?? targets[0]
            let path = FuzzFile.write(frame, tag: "state")
            // Bit patterns: an accepted hostile state may hold NaNs, which never compare equal.
            let before = target.session.context.stateBuffers().map { $0.floats.map(\.bitPattern) }
            let positionBefore = target.session.position
            let rngBefore = target.sampler.rngState
            let recentBefore = target.sampler.recentTokens
            do {
                try StateFile.load(into: target.session, sampler: target.sampler, from: path)
            } catch {
                XCTAssertEqual(target.session.context.stateBuffers().map { $0.floats.map(\.bitPattern) }, before, "refused state changed the session: \(error)")
                XCTAssertEqual(target.session.position, positionBefore)
                XCTAssertEqual(target.sampler.rngState, rngBefore)
                XCTAssertEqual(target.sampler.recentTokens, recentBefore)
                throw error
            }
            _ = target.sampler.sample(target.session.logits)
            try target.session.step(1)
        }
        XCTAssertGreaterThan(stats.accepted, 0)
        XCTAssertGreaterThan(stats.errorKinds.count, 8)
    }
}
