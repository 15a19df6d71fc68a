import RillFormat
import Foundation
import XCTest

// MARK: - The loop

/// What one fuzz run saw: accepted inputs, rejected ones and the distinct error messages
/// (numbers removed), a cheap measure of how many checks the inputs reached.
struct FuzzStats: CustomStringConvertible {
    var iterations = 0
    var accepted = 0
    var rejected = 0
    var errorKinds = Set<String>()
    var seconds = 0.0
    var description: String {
        "\(iterations) inputs in \(String(format: "%.1f", seconds)) s: \(accepted) accepted, \(rejected) rejected, \(errorKinds.count) distinct errors"
    }
}

/// Multiplies every target's iteration count: `RILL_FUZZ_SCALE=0.1` for slow builds (debug,
/// sanitizers), `10` for a longer local run. Default 1.
let fuzzScale: Double = ProcessInfo.processInfo.environment["RILL_FUZZ_SCALE"].flatMap(Double.init) ?? 1

/// Runs `iterations` (times `fuzzScale`) mutated inputs through `body`, which must return
/// normally (accepted) or throw (rejected); anything else (a trap, a sanitizer report) fails
/// the run. Accepted mutants join the corpus (up to 256) so that later mutations start from
/// deeper inputs.
///
/// The input being tried is the argument to `body`; targets that parse a file write it to
/// `FuzzFile.path(target)` first, which is left behind if the process dies, to reproduce.
func runFuzz(
    _ name: String, seeds: [[UInt8]], iterations: Int, seed: UInt64, json: Bool = false, maxLength: Int = 1 << 20,
    seedsMustLoad: Bool = true,
    mutate: ((inout [UInt8], [[UInt8]], inout SplitMix64) -> Void)? = nil,
    body: ([UInt8]) throws -> Void
) -> FuzzStats {
    var rng = SplitMix64(seed: seed)
    var corpus = seeds
    var stats = FuzzStats()
    let start = Date()
    for s in seeds {
        do { try body(s) } catch { if seedsMustLoad { XCTFail("\(name): a seed is rejected: \(error)") } }
    }
    for _ in 0..<max(1, Int(Double(iterations) * fuzzScale)) {
        let base = rng.pick(corpus)
        var input: [UInt8]
        if let mutate {
            input = base
            mutate(&input, corpus, &rng)
        } else {
            input = Mutator.mutate(base, corpus: corpus, json: json, rng: &rng, maxLength: maxLength)
        }
        stats.iterations += 1
        do {
            try body(input)
            stats.accepted += 1
            if corpus.count < seeds.count + 256, input != base { corpus.append(input) }
        } catch {
            stats.rejected += 1
            if stats.errorKinds.count < 10_000 {
                stats.errorKinds.insert(String(describing: error).filter { !$0.isNumber }.prefix(160).description)
            }
        }
    }
    stats.seconds = Date().timeIntervalSince(start)
    print("fuzz \(name): \(stats)")
    return stats
}
