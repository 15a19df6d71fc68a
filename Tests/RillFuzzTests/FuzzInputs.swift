import Foundation
import RillFormat

// Inputs for the fuzz harness, shared by the XCTest targets and the libFuzzer entry points
// (`Tools/fuzz.sh` compiles this file and `FuzzFixtures.swift` with `Tools/fuzz/*.swift`),
// so nothing here may use XCTest.

// MARK: - Deterministic randomness

/// Draws of the harness from RillFormat's seeded SplitMix64, so every run sees the same inputs
/// and a failure reproduces by re-running the test.
extension SplitMix64 {
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }
}

// MARK: - Mutations

/// Byte- and JSON-level mutations of a seed input.
///
/// Byte mutations: bit flips, bytes set to 0 / 0xFF / 0x7F / 0x80, little-endian 16/32/64-bit
/// boundary integers written at a random offset, truncation, deletion, insertion, duplication
/// of a range, and splices from another corpus entry. JSON mutations rewrite a number literal
/// to a huge, negative, fractional, non-finite or non-number value, a string to an empty or
/// odd one, or drop a structural character.
enum Mutator {
    /// Boundary values for size and offset fields (as unsigned 64-bit patterns).
    static let boundaryInts: [UInt64] = [
        0, 1, 2, 3, 7, 8, 31, 32, 33, 63, 64, 65, 127, 128, 255, 256, 1023, 1024, 4095, 4096, 65535, 65536,
        0x7FFF, 0x8000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 32, (1 << 40), (1 << 40) + 1,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, UInt64.max, UInt64.max - 7, UInt64.max - 63,
    ]

    /// Replacements for a JSON number literal.
    static let jsonNumbers: [String] = [
        "0", "-1", "1", "2", "-0", "0.5", "1.5", "-1e-3", "1e-400", "1e308", "1e999", "-1e999", "NaN", "Infinity",
        "-Infinity", "nan", "2147483647", "2147483648", "-2147483649", "4294967296", "1099511627776",
        "1099511627777", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "18446744073709551616", "99999999999999999999999999", "65536", "65537", "4000001", "10000001",
        "1024", "1025", "3", "7", "\"auto\"", "\"7\"", "null", "true", "[]", "{}", "[1,2]",
    ]

    /// Replacements for a JSON string's contents (between the quotes).
    static let jsonStrings: [String] = [
        "", " ", "auto", "\\u0000", "\\ud800", "\\udfff\\ud800", "\\\"", "a\\nb", "F32", "I64", "BF16", "U8",
        "BPE", "Unigram", "ByteLevel", "NFC", "NFKC", "Sequence", "mamba", "samba", "transnormer", "Ġ", "Ġ Ġ",
        "<|endoftext|>", "__metadata__", String(repeating: "x", count: 300), "\u{FFFD}", "🙂", "é",
    ]

    static func mutate(_ input: [UInt8], corpus: [[UInt8]], json: Bool, rng: inout SplitMix64, maxLength: Int) -> [UInt8] {
        var b = input
        let rounds = 1 + rng.below(4)
        for _ in 0..<rounds {
            if json && rng.chance(0.6) {
                jsonMutation(&b, rng: &rng)
            } else {
                byteMutation(&b, corpus: corpus, rng: &rng)
            }
        }
        if b.count > maxLength { b.removeLast(b.count - maxLength) }
        return b
    }

    /// Mutates raw bytes in place; `focus` (when non-empty) restricts offsets to that range.
    static func byteMutation(_ b: inout [UInt8], corpus: [[UInt8]], rng: inout SplitMix64, focus: Range<Int>? = nil) {
        let range = focus.map { $0.clamped(to: 0..<b.count) } ?? (0..<b.count)
        func offset() -> Int { range.isEmpty ? 0 : range.lowerBound + rng.below(range.count) }
        switch rng.below(10) {
        case 0, 1:  // bit flip
            guard !b.isEmpty else { return }
            b[offset()] ^= UInt8(1) << UInt8(rng.below(8))
        case 2:  // special byte
            guard !b.isEmpty else { return }
            b[offset()] = rng.pick([0, 0xFF, 0x7F, 0x80, 0x01, 0x20, 0x22, 0x5C])
        case 3, 4:  // boundary integer, little-endian, 2/4/8 bytes
            let width = rng.pick([2, 4, 8])
            guard b.count >= width else { return }
            let at = min(offset(), b.count - width)
            var v = rng.pick(boundaryInts)
            if rng.chance(0.3) { v = v &+ UInt64(bitPattern: Int64(rng.below(5) - 2)) }
            for i in 0..<width { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
        case 5:  // truncate
            guard !b.isEmpty else { return }
            b.removeLast(1 + rng.below(min(b.count, rng.chance(0.5) ? 16 : b.count)))
        case 6:  // delete a range
            guard b.count > 1 else { return }
            let at = offset() % b.count
            let n = 1 + rng.below(min(64, b.count - at))
            b.removeSubrange(at..<(at + n))
        case 7:  // insert random or repeated bytes
            let at = b.isEmpty ? 0 : offset() % (b.count + 1)
            let n = 1 + rng.below(32)
            let byte = UInt8(truncatingIfNeeded: rng.next())
            b.insert(contentsOf: (0..<n).map { _ in rng.chance(0.5) ? byte : UInt8(truncatingIfNeeded: rng.next()) }, at: at)
        case 8:  // duplicate a range of itself
            guard !b.isEmpty else { return }
            let at = offset() % b.count
            let n = 1 + rng.below(min(256, b.count - at))
            let piece = Array(b[at..<(at + n)])
            b.insert(contentsOf: piece, at: rng.below(b.count + 1))
        default:  // splice: our prefix, another entry's suffix
            let other = corpus.isEmpty ? b : rng.pick(corpus)
            guard !b.isEmpty, !other.isEmpty else { return }
            let cut = offset() % b.count
            let from = rng.below(other.count)
            b = Array(b[0..<cut]) + Array(other[from...])
        }
    }

    /// Spans of number literals and of string contents outside/inside JSON strings.
    static func jsonTokens(_ b: [UInt8]) -> (numbers: [Range<Int>], strings: [Range<Int>], structure: [Int]) {
        var numbers: [Range<Int>] = [], strings: [Range<Int>] = [], structure: [Int] = []
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                var j = i + 1
                while j < b.count && b[j] != UInt8(ascii: "\"") { j += b[j] == UInt8(ascii: "\\") ? 2 : 1 }
                strings.append((i + 1)..<min(j, b.count))
                i = j + 1
            } else if c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39) {
                var j = i + 1
                while j < b.count, "0123456789.eE+-".utf8.contains(b[j]) { j += 1 }
                numbers.append(i..<j)
                i = j
            } else {
                if "{}[]:,".utf8.contains(c) { structure.append(i) }
                i += 1
            }
        }
        return (numbers, strings, structure)
    }

    static func jsonMutation(_ b: inout [UInt8], rng: inout SplitMix64) {
        let t = jsonTokens(b)
        switch rng.below(10) {
        case 0...4 where !t.numbers.isEmpty:
            b.replaceSubrange(rng.pick(t.numbers), with: Array(rng.pick(jsonNumbers).utf8))
        case 5...7 where !t.strings.isEmpty:
            b.replaceSubrange(rng.pick(t.strings), with: Array(rng.pick(jsonStrings).utf8))
        case 8 where !t.structure.isEmpty:
            b.remove(at: rng.pick(t.structure))
        case 9 where t.strings.count >= 2:
            // Swap two string contents (keys with keys, values with keys).
            let r1 = rng.pick(t.strings), r2 = rng.pick(t.strings)
            guard r1.upperBound <= r2.lowerBound else { return }
            let s1 = Array(b[r1]), s2 = Array(b[r2])
            b.replaceSubrange(r2, with: s1)
            b.replaceSubrange(r1, with: s2)
        default:
            if !t.numbers.isEmpty { b.replaceSubrange(rng.pick(t.numbers), with: Array(rng.pick(jsonNumbers).utf8)) }
        }
    }
}

// MARK: - Files

/// The repository's `Tests/Fixtures` folder.
let fixturesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

func fixtureBytes(_ relative: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: fixturesURL.appendingPathComponent(relative)))
}

/// Scratch files of this test process (in /dev/shm when present), removed at exit unless the
/// process dies: then the last input tried is still there.
enum FuzzFile {
    nonisolated(unsafe) private static var paths = Set<String>()
    private static let lock = NSLock()

    static let directory: String = {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDir), isDir.boolValue { return "/dev/shm" }
        return FileManager.default.temporaryDirectory.path
    }()

    static func path(_ tag: String) -> String {
        lock.lock()
        defer { lock.unlock() }
        let p = "\(directory)/rill-fuzz-\(getpid())-\(tag)"
        if paths.isEmpty { atexit { FuzzFile.removeAll() } }
        paths.insert(p)
        return p
    }

    static func removeAll() {
        for p in paths { unlink(p) }
    }

    /// Writes `bytes` to the target's scratch file and returns its path.
    static func write(_ bytes: [UInt8], tag: String) -> String {
        let p = path(tag)
        let fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot create \(p)")
        bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Foundation.write(fd, buf.baseAddress! + off, buf.count - off)
                precondition(n > 0, "cannot write \(p)")
                off += n
            }
        }
        close(fd)
        return p
    }
}

// MARK: - Little-endian field access for building and resealing inputs

extension Array where Element == UInt8 {
    func u64(at o: Int) -> UInt64 {
        guard o >= 0, o + 8 <= count else { return 0 }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(self[o + i]) << (8 * UInt64(i)) }
        return v
    }
    mutating func setU64(_ v: UInt64, at o: Int) {
        guard o >= 0, o + 8 <= count else { return }
        for i in 0..<8 { self[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}

// MARK: - .rill sections

/// A `.rill` file cut into its sections, so that a mutated section can be put back into a file
/// whose header offsets, lengths and checksums are consistent again (`Formats/rill.md`).
/// Without that, nearly every mutation would stop at the header checksum.
struct RillParts {
    var metadata: [UInt8]
    var tokenizer: [UInt8]
    /// The tensor table with each entry's offset relative to the start of the data region.
    var table: [UInt8]
    var tensorCount: UInt32
    var data: [UInt8]

    /// Header field offsets (`Formats/rill.md` §3).
    enum Field {
        static let fileSize = 16, metadataOffset = 24, metadataLength = 32, tokenizerOffset = 40
        static let tokenizerLength = 48, tableOffset = 56, tableLength = 64, tensorCount = 72
        static let dataOffset = 80, dataLength = 88, metadataXXH = 96, tokenizerXXH = 104, tableXXH = 112
        static let headerXXH = 120
        static let u64Fields = [16, 24, 32, 40, 48, 56, 64, 80, 88]
    }

    init?(_ b: [UInt8]) {
        guard b.count >= 128 else { return nil }
        func range(_ off: Int, _ len: Int) -> Range<Int>? {
            let o = b.u64(at: off), l = b.u64(at: len)
            guard o <= UInt64(b.count), l <= UInt64(b.count) - o else { return nil }
            return Int(o)..<Int(o + l)
        }
        guard let m = range(Field.metadataOffset, Field.metadataLength), let t = range(Field.tableOffset, Field.tableLength),
              let d = range(Field.dataOffset, Field.dataLength) else { return nil }
        metadata = Array(b[m])
        tokenizer = b.u64(at: Field.tokenizerLength) == 0 ? [] : (range(Field.tokenizerOffset, Field.tokenizerLength).map { Array(b[$0]) } ?? [])
        tensorCount = UInt32(truncatingIfNeeded: b.u64(at: Field.tensorCount))
        table = Array(b[t])
        data = Array(b[d])
        RillParts.shiftOffsets(&table, count: Int(tensorCount), by: -Int64(d.lowerBound))
    }

    /// Adds `delta` to each entry's offset, walking entries until one does not parse.
    static func shiftOffsets(_ table: inout [UInt8], count: Int, by delta: Int64) {
        var r = 0
        for _ in 0..<count {
            guard r + 2 <= table.count else { return }
            let nameLen = Int(table[r]) | Int(table[r + 1]) << 8
            r += 2 + nameLen
            guard r + 4 <= table.count else { return }
            let rank = Int(table[r + 1])
            r += 4 + 8 * rank
            guard r + 24 <= table.count else { return }
            table.setU64(table.u64(at: r) &+ UInt64(bitPattern: delta), at: r)
            r += 24
        }
    }

    /// A file with these sections in order, the data region 64-aligned, and all checksums set.
    func assemble() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: 128)
        b.replaceSubrange(0..<8, with: RillHeader.magic)
        b[8] = 2  // major 2, minor 0
        b[12] = 128  // header size
        b.setU64(128, at: Field.metadataOffset)
        b.setU64(UInt64(metadata.count), at: Field.metadataLength)
        b += metadata
        b.setU64(tokenizer.isEmpty ? 0 : UInt64(b.count), at: Field.tokenizerOffset)
        b.setU64(UInt64(tokenizer.count), at: Field.tokenizerLength)
        b += tokenizer
        b.setU64(UInt64(b.count), at: Field.tableOffset)
        b.setU64(UInt64(table.count), at: Field.tableLength)
        var t = table
        let dataOffset = (b.count + table.count + 63) / 64 * 64
        RillParts.shiftOffsets(&t, count: Int(tensorCount), by: Int64(dataOffset))
        b += t
        b += [UInt8](repeating: 0, count: dataOffset - b.count)
        b.setU64(UInt64(dataOffset), at: Field.dataOffset)
        b.setU64(UInt64(data.count), at: Field.dataLength)
        b += data
        for i in 0..<4 { b[Field.tensorCount + i] = UInt8(truncatingIfNeeded: tensorCount >> (8 * UInt32(i))) }
        b.setU64(UInt64(b.count), at: Field.fileSize)
        RillParts.reseal(&b)
        return b
    }

    /// Recomputes the metadata, tokenizer and table checksums (where their ranges lie inside
    /// the bytes) and then the header checksum.
    static func reseal(_ b: inout [UInt8]) {
        guard b.count >= 128 else { return }
        func sum(_ off: Int, _ len: Int, into field: Int) {
            let o = b.u64(at: off), l = b.u64(at: len)
            guard o <= UInt64(b.count), l <= UInt64(b.count) - o else { return }
            b.setU64(xxh64(Array(b[Int(o)..<Int(o + l)])), at: field)
        }
        sum(Field.metadataOffset, Field.metadataLength, into: Field.metadataXXH)
        sum(Field.tokenizerOffset, Field.tokenizerLength, into: Field.tokenizerXXH)
        sum(Field.tableOffset, Field.tableLength, into: Field.tableXXH)
        b.setU64(xxh64(Array(b[0..<120])), at: Field.headerXXH)
    }
}
