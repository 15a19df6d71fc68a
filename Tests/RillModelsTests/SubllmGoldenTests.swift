import Foundation
import RillFormat
@testable import RillModels
import RillRuntime
import XCTest

/// SUBLLM against XiaoMi's reference module (Tests/Fixtures/subllm-tiny, structure
/// `TT(TT(TT)TT)TT`), and plain LLaMA against transformers' `LlamaForCausalLM`
/// (Tests/Fixtures/llama-tiny, grouped-query attention).
///
/// The truth is the reference's full-prompt pass (`pK.logits`): Rill's prefill *and* its
/// token-by-token decoding must reproduce it. The reference's own one-token decoding
/// (`pK.step_logits_last16`) rotates nested-level tokens at their original position and so
/// disagrees with its full pass; it is kept in the fixture to document that, not matched.
final class SubllmGoldenTests: XCTestCase {
    static let folder = "subllm-tiny"

    /// The kept original positions per level of the reference's full-prompt pass.
    static func keptPositions(_ prompt: String, levels: Int) throws -> [[Int]] {
        let f = try SafetensorsFile(path: fixturesURL.appendingPathComponent("\(folder)/golden.safetensors").path)
        return try (1...levels).map { l in try f.tensors["\(prompt).kept_l\(l)"]!.int32s().map(Int.init) }
    }

    func testF32PrefillAndStepMatchTheFullPromptPass() throws {
        let golden = try Golden(folder: fixturesURL.appendingPathComponent(Self.folder))
        let model = try Model(path: try ConvertedFixtures.path(Self.folder, .f32))
        XCTAssertEqual(golden.prompts.count, 4)
        for p in golden.prompts {
            for chunk in [64, 7] {
                let pre = try prefillLogits(Session(model: model, threads: 2, chunk: chunk), p.ids)
                let d = maxAbsDiff(pre[...], p.logits[...])
                XCTAssertLessThanOrEqual(d, GoldenLogitsChecks.f32Tolerance, "\(p.name) prefill, chunk \(chunk)")
                print("subllm-tiny f32 \(p.name) prefill chunk \(chunk): max|Δ| \(d)")
            }
            let step = try stepLogits(Session(model: model, threads: 2), p.ids)
            let d = maxAbsDiff(step[...], p.logits[...])
            XCTAssertLessThanOrEqual(d, GoldenLogitsChecks.f32Tolerance, "\(p.name) step")
            // The reference's own decoding is not the truth at the nested level: Rill's steps
            // agree with its full pass and so differ from its steps (0.3–0.96 on these prompts).
            let v = golden.vocab
            let refStep = maxAbsDiff(step[((p.ids.count - 16) * v)...], p.stepLast16[...])
            XCTAssertGreaterThan(refStep, 0.05, "\(p.name): the reference's one-token decoding should disagree at the nested level")
            print("subllm-tiny f32 \(p.name) step: max|Δ| vs full pass \(d), vs the reference's own decoding \(refStep)")
        }
    }

    func testEveryLevelKeepsTheReferencesPositions() throws {
        let golden = try Golden(folder: fixturesURL.appendingPathComponent(Self.folder))
        let model = try Model(path: try ConvertedFixtures.path(Self.folder, .f32))
        for p in golden.prompts {
            let want = try Self.keptPositions(p.name, levels: 2)
            let s = Session(model: model, threads: 2)
            let ctx = try XCTUnwrap(s.context as? SubllmContext)
            var got = [[Int]](repeating: [], count: 2)
            for (i, t) in p.ids.enumerated() {
                let before = ctx.kept
                try s.step(t)
                for k in 0..<2 where ctx.kept[k] > before[k] { got[k].append(i) }
            }
            XCTAssertEqual(got, want, "\(p.name): kept positions per level (step)")
            // Prefill in chunks keeps the same tokens: the counters end equal.
            let pre = Session(model: model, threads: 2, chunk: 13)
            try pre.prefill(p.ids)
            XCTAssertEqual((pre.context as! SubllmContext).kept, want.map(\.count), "\(p.name): kept counts (prefill)")
            // Each level keeps some and drops some (the fixture's own requirement).
            XCTAssert(want.allSatisfy { !$0.isEmpty && $0.count < p.ids.count })
        }
    }

    func testF32GreedyContinuationEqualsTheFullPromptGreedy() throws {
        try GoldenLogitsChecks.greedyContinuationMatches(Self.folder)
    }

    /// Measured: int8 98.4–99.3 % arg-max agreement per prompt, int4 94–96.9 % (prefill and
    /// step); the README's quality table gives KL. Guarded a little below.
    func testQuantisedArgmaxAgreementStaysAtMeasuredLevel() throws {
        try GoldenLogitsChecks.quantisedArgmaxAgrees(Self.folder, .int8, atLeast: 0.97)
        try GoldenLogitsChecks.quantisedArgmaxAgrees(Self.folder, .int4, atLeast: 0.92)
    }

    // MARK: - LLaMA, the bracket-free case

    func testLlamaF32MatchesTransformersInBothModes() throws {
        try GoldenLogitsChecks.f32MatchesInBothModes("llama-tiny")
    }

    /// Measured: int8 97–100 %, int4 71–78.5 % per prompt (this 128-wide model's near-ties; the
    /// README gives KL). Guarded a little below.
    func testLlamaGreedyAndQuantisedAgreement() throws {
        try GoldenLogitsChecks.greedyContinuationMatches("llama-tiny")
        try GoldenLogitsChecks.quantisedArgmaxAgrees("llama-tiny", .int8, atLeast: 0.97)
        try GoldenLogitsChecks.quantisedArgmaxAgrees("llama-tiny", .int4, atLeast: 0.72)
    }

    /// The keys and values are reserved when the session is made: running to the end of the
    /// context leaves the state's size as it was, and resident memory grows by no more than the
    /// reservation (its pages fill as positions are reached).
    func testMemoryIsReservedAtCreationAndNeverExceeded() throws {
        let model = try Model(path: try ConvertedFixtures.path("llama-tiny", .int8))
        let ctx = 2048
        let s = Session(model: model, threads: 2, chunk: 64, context: ctx)
        let reserved = s.stateBytes
        XCTAssertEqual(reserved, 4 * 2 * ctx * 2 * 32 * 2, "4 layers · K and V · ctx · 2 heads · 32 · f16")
        // The first steps start the thread pool and touch the scratch buffers; what is measured
        // after them is the cache filling, which must stay within the reservation.
        var token: Int32 = 1
        let warmUp = 32
        for i in 0..<warmUp {
            try s.step(token)
            token = Int32((Int(argmax(s.logits, s.vocabSize)) + i * 7919) % s.vocabSize)
        }
        let before = residentBytes()
        for i in warmUp..<ctx {
            try s.step(token)
            token = Int32((Int(argmax(s.logits, s.vocabSize)) + i * 7919) % s.vocabSize)
        }
        XCTAssertEqual(s.stateBytes, reserved)
        // 2 MiB beyond the reservation: the allocator's and (under AddressSanitizer) the shadow
        // memory's own pages.
        XCTAssertLessThan(residentBytes() - before, reserved + (2 << 20))
        XCTAssertThrowsError(try s.step(token))
    }

    /// Perplexity resets the session between chunks: a text far longer than the reserved
    /// context is scored chunk by chunk (it was refused as a whole once), and a model against
    /// itself has KL 0.
    func testPerplexityOverATextLongerThanTheContext() throws {
        let model = try Model(path: try ConvertedFixtures.path(Self.folder, .int8))
        let ctx = 32
        let tokens = (0..<(5 * ctx + 3)).map { Int32(($0 * 7919 + 11) % model.vocabSize) }
        let session = Session(model: model, threads: 1, chunk: 16, context: ctx)
        let base = Session(model: model, threads: 1, chunk: 16, context: ctx)
        let r = try Perplexity.run(tokens: tokens, model: session, base: base, context: ctx)
        XCTAssertEqual(r.chunks, 5)
        XCTAssert(r.perplexity.isFinite && r.perplexity > 1)
        XCTAssertEqual(r.meanKL ?? 1, 0, accuracy: 1e-9)
        XCTAssertEqual(r.argmaxAgreement, 1)
    }
}
