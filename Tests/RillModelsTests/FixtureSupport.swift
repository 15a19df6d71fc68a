import Foundation
import RillConvert
import RillFormat
import RillRuntime
import XCTest

/// The repository's `Tests/Fixtures` folder.
let fixturesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// Golden outputs of a reference implementation (`golden.safetensors`, see the fixture READMEs).
struct Golden {
    struct Prompt {
        let name: String
        let ids: [Int32]
        /// (n, V) full-sequence logits.
        let logits: [Float]
        /// (16, V) logits of the last 16 positions fed one token at a time.
        let stepLast16: [Float]
        let greedy: [Int32]
    }
    let prompts: [Prompt]
    let vocab: Int

    init(folder: URL) throws {
        let f = try SafetensorsFile(path: folder.appendingPathComponent("golden.safetensors").path)
        var prompts: [Prompt] = []
        var vocab = 0
        for k in 0..<10 {
            guard let ids = f.tensors["p\(k).input_ids"] else { break }
            let logits = f.tensors["p\(k).logits"]!
            vocab = logits.shape[1]
            prompts.append(Prompt(
                name: "p\(k)", ids: try ids.int32s(), logits: try logits.floats(),
                stepLast16: try f.tensors["p\(k).step_logits_last16"]!.floats(), greedy: try f.tensors["p\(k).greedy"]!.int32s()))
        }
        self.prompts = prompts
        self.vocab = vocab
    }
}

/// Converts a fixture folder once per quantisation (cached for the test run).
enum ConvertedFixtures {
    nonisolated(unsafe) private static var cache: [String: String] = [:]
    private static let lock = NSLock()

    /// Deletes the converted files when the test process exits.
    static func removeAll() {
        for p in cache.values { unlink(p) }
    }

    static func path(_ folder: String, _ quant: QuantType) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let key = "\(folder)-\(quant)"
        if let p = cache[key] { return p }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("rill-test-\(getpid())-\(key.replacingOccurrences(of: "/", with: "_")).rill").path
        _ = try Converter.convert(
            directory: fixturesURL.appendingPathComponent(folder).path, output: out,
            options: ConvertOptions(quant: quant),
            tokenizerCheck: { _, _ in TokenizerInfo(format: "hf-tokenizer-json", model: "BPE", vocabSize: 0) })
        if cache.isEmpty { atexit { ConvertedFixtures.removeAll() } }
        cache[key] = out
        return out
    }
}

/// Logits of every position through the chunked prefill.
func prefillLogits(_ session: Session, _ ids: [Int32]) throws -> [Float] {
    var out = [Float](repeating: .nan, count: ids.count * session.vocabSize)
    let v = session.vocabSize
    try session.prefillAll(ids) { i, row in
        out.withUnsafeMutableBufferPointer { (b: inout UnsafeMutableBufferPointer<Float>) in
            (b.baseAddress! + i * v).update(from: row, count: v)
        }
    }
    return out
}

/// Logits of every position feeding one token at a time.
func stepLogits(_ session: Session, _ ids: [Int32]) throws -> [Float] {
    var out: [Float] = []
    out.reserveCapacity(ids.count * session.vocabSize)
    for t in ids {
        try session.step(t)
        out.append(contentsOf: UnsafeBufferPointer(start: session.logits, count: session.vocabSize))
    }
    return out
}

func maxAbsDiff(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
    precondition(a.count == b.count)
    var m: Float = 0
    for (x, y) in zip(a, b) {
        let d = abs(x - y)
        if !(d <= m) { m = d.isNaN ? .infinity : d }
    }
    return m
}

/// Fraction of rows whose arg-max agrees.
func argmaxAgreement(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>, vocab: Int) -> Double {
    let rows = a.count / vocab
    var same = 0
    let a = Array(a), b = Array(b)
    for r in 0..<rows {
        let ra = a[(r * vocab)..<((r + 1) * vocab)], rb = b[(r * vocab)..<((r + 1) * vocab)]
        if ra.indices.max(by: { ra[$0] < ra[$1] }) == rb.indices.max(by: { rb[$0] < rb[$1] }) { same += 1 }
    }
    return Double(same) / Double(rows)
}

/// Greedy continuation of `count` tokens after `ids`: the first from the prefill's last row,
/// then one token per step (arg-max, first index on ties).
func greedy(_ session: Session, after ids: [Int32], count: Int) throws -> [Int32] {
    try session.prefill(ids)
    var out: [Int32] = []
    for i in 0..<count {
        let next = argmax(session.logits, session.vocabSize)
        out.append(next)
        if i + 1 < count { try session.step(next) }
    }
    return out
}

/// Resident memory now (bytes), from /proc/self/statm.
func residentBytes() -> Int { ResidentMemory.current()?.residentBytes ?? 0 }
