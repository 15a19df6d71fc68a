import Foundation
import RillFormat
import RillModels
import RillRuntime
import XCTest

/// The checks every architecture's fixture must pass against its reference's golden logits
/// (`DESIGN.md` §6): f32 within 1e−3 max abs in both modes, int8 arg-max agreement ≥ 99 %,
/// int4 ≥ 95 %, and the greedy continuation equal in f32.
enum GoldenLogitsChecks {
    static let f32Tolerance: Float = 1e-3

    /// `kvCache` and `tolerance` other than the defaults measure what f16 K/V rings cost.
    static func f32MatchesInBothModes(
        _ folder: String, kvCache: KVCacheType? = nil, tolerance f32Tolerance: Float = f32Tolerance,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let golden = try Golden(folder: fixturesURL.appendingPathComponent(folder))
        let model = try Model(path: try ConvertedFixtures.path(folder, .f32))
        for p in golden.prompts {
            let v = golden.vocab
            let session = Session(model: model, threads: 2, chunk: 64, kvCache: kvCache)
            let pre = try prefillLogits(session, p.ids)
            let dPre = maxAbsDiff(pre[...], p.logits[...])
            XCTAssertLessThanOrEqual(dPre, f32Tolerance, "\(folder) \(p.name) prefill max |Δ|", file: file, line: line)

            session.reset()
            let step = try stepLogits(session, p.ids)
            let dStep = maxAbsDiff(step[...], p.logits[...])
            XCTAssertLessThanOrEqual(dStep, f32Tolerance, "\(folder) \(p.name) step vs full max |Δ|", file: file, line: line)
            let last16 = step[((p.ids.count - 16) * v)...]
            let dLast = maxAbsDiff(last16, p.stepLast16[...])
            XCTAssertLessThanOrEqual(dLast, f32Tolerance, "\(folder) \(p.name) step vs step_logits_last16", file: file, line: line)
            print("\(folder) f32 (K/V \(session.kvCache)) \(p.name): prefill max|Δ| \(dPre), step max|Δ| \(dStep), last16 \(dLast)")
        }
    }

    static func quantisedArgmaxAgrees(_ folder: String, _ quant: QuantType, atLeast minimum: Double, file: StaticString = #filePath, line: UInt = #line) throws {
        let golden = try Golden(folder: fixturesURL.appendingPathComponent(folder))
        let model = try Model(path: try ConvertedFixtures.path(folder, quant))
        var agreeSum = 0.0, rows = 0.0
        for p in golden.prompts {
            let session = Session(model: model, threads: 2, chunk: 64)
            let pre = try prefillLogits(session, p.ids)
            session.reset()
            let step = try stepLogits(session, p.ids)
            let n = Double(p.ids.count)
            let aPre = argmaxAgreement(pre[...], p.logits[...], vocab: golden.vocab)
            let aStep = argmaxAgreement(step[...], p.logits[...], vocab: golden.vocab)
            print("\(folder) \(quant) \(p.name): arg-max agreement prefill \(aPre), step \(aStep)")
            agreeSum += (aPre + aStep) * n
            rows += 2 * n
        }
        XCTAssertGreaterThanOrEqual(agreeSum / rows, minimum, "\(folder) \(quant) arg-max agreement", file: file, line: line)
    }

    static func greedyContinuationMatches(_ folder: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let golden = try Golden(folder: fixturesURL.appendingPathComponent(folder))
        let model = try Model(path: try ConvertedFixtures.path(folder, .f32))
        for p in golden.prompts {
            let session = Session(model: model, threads: 2, chunk: 64)
            let got = try greedy(session, after: p.ids, count: p.greedy.count)
            XCTAssertEqual(got, p.greedy, "\(folder) \(p.name) greedy continuation", file: file, line: line)
        }
    }

    /// 100,000 tokens: every logit finite, resident memory after the first 1,000 tokens grows
    /// by less than 1 MiB.
    static func longRunIsFlat(_ folder: String, tokens: Int = 100_000, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try Model(path: try ConvertedFixtures.path(folder, .int8))
        let session = Session(model: model, threads: 2, chunk: 64)
        var token: Int32 = 1
        var rssAfterWarmup = 0
        var maxRSS = 0
        for i in 0..<tokens {
            try session.step(token)
            // A cheap deterministic walk through the vocabulary (not sampling: no RNG needed).
            let next = argmax(session.logits, session.vocabSize)
            for j in stride(from: 0, to: session.vocabSize, by: 97) where !session.logits[j].isFinite {
                XCTFail("\(folder): non-finite logit at token \(i)", file: file, line: line)
                return
            }
            token = Int32((Int(next) + i * 7919) % session.vocabSize)
            if i == 1_000 { rssAfterWarmup = residentBytes() }
            if i > 1_000 && i % 5_000 == 0 { maxRSS = max(maxRSS, residentBytes()) }
        }
        for j in 0..<session.vocabSize where !session.logits[j].isFinite {
            XCTFail("\(folder): non-finite logit at the end", file: file, line: line)
            return
        }
        let growth = maxRSS - rssAfterWarmup
        print("\(folder) long run: \(tokens) tokens, RSS after 1,000 \(rssAfterWarmup) B, max after \(maxRSS) B, growth \(growth) B")
        XCTAssertLessThan(growth, 1 << 20, "\(folder) RSS growth after 1,000 tokens", file: file, line: line)
    }
}
