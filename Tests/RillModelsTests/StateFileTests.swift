import Foundation
import RillFormat
import RillModels
import RillRuntime
import RillTokenizer
import XCTest

/// Saving and restoring a session's whole state (`Formats/state.md`).
final class StateFileTests: XCTestCase {
    private func generate(_ session: Session, _ sampler: Sampler, count: Int, logits: inout [[Float]]) throws -> [Int32] {
        var out: [Int32] = []
        for i in 0..<count {
            let next = sampler.sample(session.logits)
            sampler.accept(next)
            out.append(next)
            logits.append(Array(UnsafeBufferPointer(start: session.logits, count: session.vocabSize)))
            if i + 1 < count { try session.step(next) }
        }
        return out
    }

    /// N tokens straight equal k tokens, save, load into a fresh session, N − k tokens:
    /// identical tokens and bitwise identical logits (sampling at temperature 0.8 so the
    /// sampler's RNG must be restored too).
    private func checkIdentity(_ folder: String, quant: QuantType = .f32) throws {
        let model = try Model(path: try ConvertedFixtures.path(folder, quant))
        var settings = SamplerSettings()
        settings.seed = 1234
        settings.repeatPenalty = 1.1
        let prompt: [Int32] = Array(1...40).map { Int32($0 * 7) }
        let n = 90, k = 37

        let straight = Session(model: model, threads: 2)
        let s1 = Sampler(settings: settings, vocabSize: model.vocabSize)
        prompt.forEach(s1.accept)
        try straight.prefill(prompt)
        var logitsA: [[Float]] = []
        let tokensA = try generate(straight, s1, count: n, logits: &logitsA)

        let first = Session(model: model, threads: 2)
        let s2 = Sampler(settings: settings, vocabSize: model.vocabSize)
        prompt.forEach(s2.accept)
        try first.prefill(prompt)
        var logitsB: [[Float]] = []
        var tokensB = try generate(first, s2, count: k, logits: &logitsB)
        try first.step(tokensB.last!)
        let path = temporaryDirectory("state").path + ".rstate"
        defer { unlink(path) }
        let sizes = try StateFile.save(session: first, sampler: s2, to: path)
        print("\(folder) state: \(sizes.raw) B raw, \(sizes.compressed) B compressed")

        let second = Session(model: model, threads: 1)
        let s3 = Sampler(settings: settings, vocabSize: model.vocabSize)
        try StateFile.load(into: second, sampler: s3, from: path)
        tokensB += try generate(second, s3, count: n - k, logits: &logitsB)
        XCTAssertEqual(tokensA, tokensB)
        XCTAssertEqual(logitsA, logitsB, "logits must be bitwise equal")
    }

    func testSaveAfterKThenLoadContinuesIdenticallyForMamba() throws { try checkIdentity("mamba-tiny") }
    func testSaveAfterKThenLoadContinuesIdenticallyForTransNormer() throws { try checkIdentity("transnormer-tiny") }
    /// 130 positions: the 64-slot rings have wrapped. int8 has f16 rings (written to the file as
    /// f32, rounded back on load: exact for values that were halves).
    func testSaveAfterKThenLoadContinuesIdenticallyForSamba() throws {
        try checkIdentity("samba-tiny")
        try checkIdentity("samba-tiny", quant: .int8)
    }

    func testCorruptedTruncatedOrForeignStateIsRejectedAndStateUntouched() throws {
        let mamba = try Model(path: try ConvertedFixtures.path("mamba-tiny", .f32))
        let tn = try Model(path: try ConvertedFixtures.path("transnormer-tiny", .f32))
        let s = Session(model: mamba, threads: 1)
        try s.prefill([1, 2, 3, 4])
        let path = temporaryDirectory("state").path + ".rstate"
        defer { unlink(path) }
        try StateFile.save(session: s, sampler: nil, to: path)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))

        let target = Session(model: mamba, threads: 1)
        try target.prefill([9, 9, 9])
        let before = target.context.stateBuffers().map(\.floats)
        let positionBefore = target.position

        func expectRejected(_ bytes: Data, _ what: String) {
            try? bytes.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try StateFile.load(into: target, sampler: nil, from: path), what)
            XCTAssertEqual(target.context.stateBuffers().map(\.floats), before, "\(what): state changed")
            XCTAssertEqual(target.position, positionBefore)
        }
        for cut in [0, 3, 10, good.count / 2, good.count - 1] { expectRejected(good.prefix(cut), "truncated at \(cut)") }
        var flipped = good
        flipped[good.count / 2] ^= 0x40
        expectRejected(flipped, "flipped byte")
        expectRejected(Data("not a state file at all".utf8), "garbage")

        // Another model's state.
        let other = Session(model: tn, threads: 1)
        try other.prefill([1, 2])
        try StateFile.save(session: other, sampler: nil, to: path)
        XCTAssertThrowsError(try StateFile.load(into: target, sampler: nil, from: path)) { error in
            guard case StateFileError.wrongModel = error else { return XCTFail("\(error)") }
        }
    }

    /// The conversation record beside a state file (`FILE.json`, read by `/load`) is checked
    /// before Swift 6.0's JSONDecoder sees it: a lone surrogate escape in a key is an error
    /// naming the file, not a stop of the process.
    func testConversationRecordWithALoneSurrogateKeyIsCorrupted() throws {
        let model = try Model(path: try ConvertedFixtures.path("mamba-tiny", .f32))
        var chat = Conversation(model: model, session: Session(model: model, threads: 1), template: ChatTemplate.plain)
        let path = temporaryDirectory("state").path + ".rstate"
        defer { unlink(path + ".json") }
        try Data(#"{"\uDBFF": 1, "messages": [], "tokens": []}"#.utf8).write(to: URL(fileURLWithPath: path + ".json"))
        XCTAssertThrowsError(try chat.load(from: path)) { error in
            XCTAssertEqual(error as? StateFileError, .corrupted(
                path: path + ".json", field: "(file)", reason: "a \\u escape of a high surrogate without its low surrogate at byte 2"))
        }
    }

    /// Two sessions on one model, in two threads, give the same logits as one alone.
    func testTwoSessionsOnOneModelInTwoThreads() throws {
        let model = try Model(path: try ConvertedFixtures.path("mamba-tiny", .int8))
        let ids: [Int32] = (0..<200).map { Int32(($0 * 31) % 2048) }
        let alone = Session(model: model, threads: 1)
        let want = try stepLogits(alone, ids)
        var results = [[Float]](repeating: [], count: 2)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let s = Session(model: model, threads: 2)
            let got = (try? stepLogits(s, ids)) ?? []
            lock.lock()
            results[i] = got
            lock.unlock()
        }
        XCTAssertEqual(results[0], want)
        XCTAssertEqual(results[1], want)
    }
}
