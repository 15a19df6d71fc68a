// Helpers shared by the format tests: a seeded generator, temporary folders, fixture paths,
// a safetensors writer, byte-level access to `.rill` files written from `Formats/rill.md`
// (independent of `RillHeader`/`TensorSpec`, so the spec and the code check each other), and
// assertions on `RillFileError` cases.

import Foundation
import RillFormat
import XCTest

// MARK: - Seeded random numbers

/// Draws of the format's tests from the seeded generator (SplitMix64, in RillFormat).
extension SplitMix64 {
    /// Uniform in [−1, 1), 24 random bits.
    mutating func signedUnit() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }

    /// `n` values uniform in [−scale, scale).
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in signedUnit() * scale } }
}

// MARK: - Files and folders

extension XCTestCase {
    /// A fresh folder under the system temporary directory, removed when the test ends.
    func makeTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rill-format-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}

enum Fixtures {
    /// `Tests/Fixtures`, found from this source file so that tests run from any directory.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    /// The fixture folder's path, or nil when it (or its `config.json`) is absent.
    static func folder(_ name: String) -> String? {
        let dir = root.appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: dir.appendingPathComponent("config.json").path) ? dir.path : nil
    }
}

func readBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

func writeBytes(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

/// Copies every regular file of `source` into the new folder `destination`.
func copyFolder(_ source: String, to destination: String) throws {
    let fm = FileManager.default
    try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
    for name in try fm.contentsOfDirectory(atPath: source) {
        try fm.copyItem(atPath: source + "/" + name, toPath: destination + "/" + name)
    }
}

/// Files in `directory` whose names start with `prefix` (e.g. leftover `OUT.partial-*`).
func files(in directory: String, withPrefix prefix: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix(prefix) }
}

// MARK: - Little-endian bytes

extension Array where Element == UInt8 {
    func u16(at i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }
    func u32(at i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(self[i + $1]) << (8 * $1) } }
    func u64(at i: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(self[i + $1]) << (8 * $1) } }
    mutating func setU8(_ v: UInt8, at i: Int) { self[i] = v }
    mutating func setU16(_ v: UInt16, at i: Int) { for k in 0..<2 { self[i + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
    mutating func setU32(_ v: UInt32, at i: Int) { for k in 0..<4 { self[i + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
    mutating func setU64(_ v: UInt64, at i: Int) { for k in 0..<8 { self[i + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { Swift.withUnsafeBytes(of: v.littleEndian) { Array($0) } }
}

func floatBytes(_ values: [Float]) -> [UInt8] { values.flatMap { [UInt8].le($0.bitPattern) } }

// MARK: - `.rill` files at the byte level (Formats/rill.md §3, §5)

/// A `.rill` file's bytes with accessors at the offsets the specification gives. Used to read
/// files without `RillHeader`, to corrupt them on purpose and to reseal the checksums so that
/// a deeper check is the one that fails.
struct RawRill {
    var bytes: [UInt8]

    /// Header field offsets (Formats/rill.md §3).
    enum H {
        static let magic = 0, major = 8, minor = 10, headerSize = 12, fileSize = 16
        static let metadataOffset = 24, metadataLength = 32, tokenizerOffset = 40, tokenizerLength = 48
        static let tableOffset = 56, tableLength = 64, tensorCount = 72, reserved = 76
        static let dataOffset = 80, dataLength = 88
        static let metadataXXH64 = 96, tokenizerXXH64 = 104, tableXXH64 = 112, headerXXH64 = 120
    }

    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init(path: String) throws { bytes = try readBytes(path) }

    func u64(_ field: Int) -> UInt64 { bytes.u64(at: field) }
    var metadataRange: Range<Int> { Int(u64(H.metadataOffset))..<Int(u64(H.metadataOffset) + u64(H.metadataLength)) }
    var tokenizerRange: Range<Int> { Int(u64(H.tokenizerOffset))..<Int(u64(H.tokenizerOffset) + u64(H.tokenizerLength)) }
    var tableRange: Range<Int> { Int(u64(H.tableOffset))..<Int(u64(H.tableOffset) + u64(H.tableLength)) }
    var tensorCount: Int { Int(bytes.u32(at: H.tensorCount)) }
    var metadataJSON: String { String(decoding: bytes[metadataRange], as: UTF8.self) }

    /// Where each field of one tensor-table entry lies (absolute file offsets).
    struct Entry {
        var start: Int, nameLength: Int, name: String
        var type: Int, rank: Int, reserved: Int, dims: Int, offset: Int, length: Int, xxh64: Int, end: Int
    }

    /// Walks the table as §5 lays it out (valid tables only).
    func entries() -> [Entry] {
        var p = tableRange.lowerBound
        var out: [Entry] = []
        for _ in 0..<tensorCount {
            let n = Int(bytes.u16(at: p))
            let name = String(decoding: bytes[(p + 2)..<(p + 2 + n)], as: UTF8.self)
            let type = p + 2 + n
            let rank = Int(bytes[type + 1])
            let dims = type + 4
            let offset = dims + 8 * rank
            out.append(Entry(
                start: p, nameLength: n, name: name, type: type, rank: type + 1, reserved: type + 2, dims: dims,
                offset: offset, length: offset + 8, xxh64: offset + 16, end: offset + 24))
            p = offset + 24
        }
        return out
    }

    /// Recomputes the metadata, tokenizer and table checksums, then the header checksum.
    mutating func reseal() {
        bytes.setU64(xxh64(Array(bytes[metadataRange])), at: H.metadataXXH64)
        if u64(H.tokenizerLength) > 0 { bytes.setU64(xxh64(Array(bytes[tokenizerRange])), at: H.tokenizerXXH64) }
        bytes.setU64(xxh64(Array(bytes[tableRange])), at: H.tableXXH64)
        resealHeader()
    }

    /// Recomputes only the header checksum (XXH64 of bytes 0..<120).
    mutating func resealHeader() { bytes.setU64(xxh64(Array(bytes[0..<120])), at: H.headerXXH64) }

    /// Replaces the metadata JSON, padding it with spaces so that everything after it moves by
    /// a multiple of 64 bytes (alignment kept), and relocates the sections and tensors.
    mutating func replaceMetadata(with json: [UInt8]) {
        let old = metadataRange
        var new = json
        while (new.count - old.count) % 64 != 0 { new.append(0x20) }
        let delta = new.count - old.count
        let shifted = entries().map(\.offset)
        bytes.replaceSubrange(old, with: new)
        func shift(_ field: Int) { bytes.setU64(UInt64(Int(u64(field)) + delta), at: field) }
        bytes.setU64(UInt64(new.count), at: H.metadataLength)
        if u64(H.tokenizerLength) > 0 { shift(H.tokenizerOffset) }
        for f in [H.tableOffset, H.dataOffset, H.fileSize] { shift(f) }
        for o in shifted { bytes.setU64(UInt64(Int(bytes.u64(at: o + delta)) + delta), at: o + delta) }
        reseal()
    }

    func write(to path: String) throws { try writeBytes(bytes, to: path) }
}

// MARK: - Safetensors files

/// One tensor to write into a safetensors file.
struct STTensor {
    var name: String
    var dtype: String
    var shape: [Int]
    var data: [UInt8]

    static func f32(_ name: String, _ shape: [Int], _ values: [Float]) -> STTensor {
        precondition(values.count == shape.reduce(1, *))
        return STTensor(name: name, dtype: "F32", shape: shape, data: floatBytes(values))
    }
}

/// A safetensors file: u64 header length, the JSON header (padded with spaces to a multiple of
/// 8 bytes, as the Python library does), then the tensors' bytes in order.
func safetensorsBytes(_ tensors: [STTensor], metadata: [String: String]? = ["format": "pt"]) -> [UInt8] {
    var entries: [String] = []
    var offset = 0
    for t in tensors {
        let shape = t.shape.map(String.init).joined(separator: ",")
        entries.append("\"\(t.name)\":{\"dtype\":\"\(t.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + t.data.count)]}")
        offset += t.data.count
    }
    if let metadata {
        let kv = metadata.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
        entries.insert("\"__metadata__\":{\(kv)}", at: 0)
    }
    return safetensorsBytes(header: "{" + entries.joined(separator: ",") + "}", data: tensors.flatMap(\.data))
}

/// A safetensors file from a header given as text (for malformed headers).
func safetensorsBytes(header: String, data: [UInt8]) -> [UInt8] {
    var h = Array(header.utf8)
    while h.count % 8 != 0 { h.append(0x20) }
    return [UInt8].le(UInt64(h.count)) + h + data
}

/// Every tensor of a safetensors file, in data order, as `STTensor`s (to rewrite it changed).
func readSafetensors(_ path: String) throws -> [STTensor] {
    let f = try SafetensorsFile(path: path)
    return f.tensors.values
        .sorted { $0.bytes.baseAddress! < $1.bytes.baseAddress! }
        .map { STTensor(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, data: Array($0.bytes)) }
}

// MARK: - Errors

extension RillFileError {
    /// The case, without its payload.
    enum Kind: String {
        case io, truncated, badMagic, unsupportedVersion, invalidField, checksumMismatch, missingTensor, badJSON
        case unsupportedArchitecture
    }

    var kind: Kind {
        switch self {
        case .io: return .io
        case .truncated: return .truncated
        case .badMagic: return .badMagic
        case .unsupportedVersion: return .unsupportedVersion
        case .invalidField: return .invalidField
        case .checksumMismatch: return .checksumMismatch
        case .missingTensor: return .missingTensor
        case .badJSON: return .badJSON
        case .unsupportedArchitecture: return .unsupportedArchitecture
        }
    }

    /// The field the error names, where the case has one (the tensor name for `missingTensor`).
    var field: String? {
        switch self {
        case let .truncated(_, field, _, _), let .invalidField(_, field, _, _), let .checksumMismatch(_, field, _, _),
            let .badJSON(_, field, _):
            return field
        case let .missingTensor(_, name): return name
        default: return nil
        }
    }
}

/// Runs `body`, which must throw a `RillFileError`; returns it (nil, with a failure, otherwise).
@discardableResult
func rillError<T>(
    _ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line
) -> RillFileError? {
    do {
        _ = try body()
        XCTFail("expected a RillFileError, but the call succeeded", file: file, line: line)
    } catch let e as RillFileError {
        return e
    } catch {
        XCTFail("expected a RillFileError, got \(type(of: error)): \(error)", file: file, line: line)
    }
    return nil
}

/// Asserts that `body` throws a `RillFileError` of `kind` naming `field` (when given).
func assertRillError<T>(
    _ kind: RillFileError.Kind, field: String? = nil, _ body: () throws -> T,
    file: StaticString = #filePath, line: UInt = #line
) {
    guard let e = rillError(body, file: file, line: line) else { return }
    XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line)
    if let field { XCTAssertEqual(e.field, field, "\(e)", file: file, line: line) }
}

// MARK: - A small `.rill` file

/// A file of a few KB: a tiny (valid) Mamba config, a small tokenizer and one tensor of each
/// storage type, with odd shapes so that padding and alignment are exercised.
enum SmallFile {
    static let config = ModelConfig.mamba(MambaConfig(
        hiddenSize: 4, numLayers: 1, vocabSize: 8, stateSize: 2, convKernel: 2, intermediateSize: 8,
        timeStepRank: 1, layerNormEpsilon: 1e-5, useConvBias: true, useBias: false, tieWordEmbeddings: true))

    static let tokenizer = Array(#"{"model":{"type":"BPE","vocab":{"a":0,"b":1,"c":2}}}"#.utf8)

    static func metadata(tokenizer: Bool = true) -> RillMetadata {
        RillMetadata(
            config: config, bosTokenID: 0, eosTokenID: 1,
            tokenizer: tokenizer ? TokenizerInfo(format: "hf-tokenizer-json", model: "BPE", vocabSize: 3) : nil,
            provenance: Provenance(
                converter: "rill tests", sourceArchitecture: "MambaForCausalLM",
                sourceFiles: [.init(name: "model.safetensors", bytes: 1, xxh64: hex(0))]),
            quantization: QuantizationInfo(requested: "int4", overrides: []))
    }

    /// (name, type, shape): one of each type, a 1-D tensor and a rank-3 one.
    static let shapes: [(String, QuantType, [Int])] = [
        ("w.f32", .f32, [3, 5]), ("w.f16", .f16, [2, 7]), ("w.int8", .int8, [2, 40]),
        ("w.int4", .int4, [3, 33]), ("v.bias", .f32, [9]), ("w.rank3", .int8, [2, 2, 32]),
    ]

    static func values(_ shape: [Int], seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return rng.floats(shape.reduce(1, *), scale: 2)
    }

    @discardableResult
    static func write(to path: String, tokenizer: Bool = true) throws -> [TensorSpec] {
        let pending = shapes.enumerated().map { i, s in
            PendingTensor(name: s.0, type: s.1, shape: s.2) { values(s.2, seed: UInt64(i + 1)) }
        }
        return try RillWriter.write(
            to: path, metadata: metadata(tokenizer: tokenizer), tokenizer: tokenizer ? self.tokenizer : nil, tensors: pending)
    }
}
