import Foundation
import RillFormat
import RillRuntime
import RillTokenizer
import XCTest

/// Hostile `.rill` files: every input opens or throws `RillFileError`; one that opens is then
/// used as `rill run` would use it (tensor views, tokenizer, checksums, model, one step).
final class RillFileFuzzTests: XCTestCase {
    /// Seeds: tiny Mamba models (f32 with a tokenizer section, int4 and int8 without), a tiny
    /// TransNormerLLM and SAMBA, and the Mamba file carrying the SAMBA's metadata.
    static func seeds() throws -> [[UInt8]] {
        let paths = [
            try FuzzFixtures.rillPath("mamba-tok", .f32), try FuzzFixtures.rillPath("mamba", .int4),
            try FuzzFixtures.rillPath("mamba", .int8), try FuzzFixtures.rillPath("transnormer", .int4),
            try FuzzFixtures.rillPath("samba", .int8),
        ]
        var seeds = try paths.map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: $0))) }
        if var mixed = RillParts(seeds[1]), let tn = RillParts(seeds[4]) {
            mixed.metadata = tn.metadata
            seeds.append(mixed.assemble())
        }
        return seeds
    }

    /// One mutation: of the metadata JSON, a table entry, a header field, or raw bytes; the
    /// first three re-assemble or re-seal the file so the mutation reaches the checks behind
    /// the checksums.
    static func mutate(_ b: inout [UInt8], corpus: [[UInt8]], rng: inout SplitMix64) {
        let choice = rng.below(20)
        if choice < 14, var parts = RillParts(b) {
            switch choice {
            case 0..<6:
                for _ in 0..<(1 + rng.below(3)) { Mutator.jsonMutation(&parts.metadata, rng: &rng) }
            case 6..<10:
                Mutator.byteMutation(&parts.table, corpus: [], rng: &rng)
            case 10:
                parts.tensorCount = UInt32(truncatingIfNeeded: rng.pick(Mutator.boundaryInts) &+ UInt64(rng.below(3)))
            case 11:
                Mutator.byteMutation(&parts.data, corpus: [], rng: &rng)
            case 12:
                Mutator.byteMutation(&parts.tokenizer, corpus: [], rng: &rng)
            default:
                Mutator.byteMutation(&parts.metadata, corpus: [], rng: &rng)
            }
            b = parts.assemble()
        } else if choice < 18 {
            // A header field set to a boundary value or nudged, checksums recomputed.
            let field = rng.pick(RillParts.Field.u64Fields + [8, 10, 12, RillParts.Field.tensorCount])
            let width = field < 16 ? (field == 12 ? 4 : 2) : (field == RillParts.Field.tensorCount ? 4 : 8)
            var v = rng.chance(0.5) ? rng.pick(Mutator.boundaryInts) : b.u64(at: field) &+ UInt64(bitPattern: Int64(rng.below(129) - 64))
            if width < 8 { v &= (UInt64(1) << UInt64(8 * width)) - 1 }
            for i in 0..<width where field + i < b.count { b[field + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
            RillParts.reseal(&b)
        } else {
            Mutator.byteMutation(&b, corpus: corpus, rng: &rng, focus: 0..<min(b.count, 4096))
            if rng.chance(0.5) { RillParts.reseal(&b) }
        }
    }

    /// Opens the file and uses it; returns normally when it loaded, throws when refused.
    static func open(_ bytes: [UInt8], tag: String) throws {
        let path = FuzzFile.write(bytes, tag: tag)
        let f = try RillFile(path: path)
        for t in f.tensors { _ = try f.tensor(t.name) }
        _ = f.verify()
        _ = f.fingerprint
        if let tok = try f.tokenizerBytes() { _ = try ByteLevelBPETokenizer(tokenizerJSON: tok) }
        let model = try Model(path: path)
        let session = Session(model: model, threads: 1)
        try session.step(0)
        try session.step(Int32(model.vocabSize - 1))
    }

    func testSeedsOpenAndRunAsModels() throws {
        for (i, s) in try Self.seeds().prefix(5).enumerated() {
            XCTAssertNoThrow(try Self.open(s, tag: "rill-seed"), "seed \(i)")
        }
    }

    /// 50,000 mutated files, each opened or refused with a typed error (about 8 s in release
    /// on two cores).
    func testMutatedRillFilesOpenOrThrow() throws {
        let stats = runFuzz("rill", seeds: try Self.seeds(), iterations: 50_000, seed: 0x5249_4C4C, seedsMustLoad: false, mutate: Self.mutate) {
            try Self.open($0, tag: "rill")
        }
        XCTAssertGreaterThan(stats.accepted, 0, "no mutant loaded: the mutations are too coarse")
        XCTAssertGreaterThan(stats.errorKinds.count, 40, "few distinct errors: the mutations do not reach the checks")
    }
}
