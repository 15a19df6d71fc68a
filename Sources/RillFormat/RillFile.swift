import Foundation

/// An opened `.rill` model: the mapping, the parsed header, metadata and tensor table.
///
/// Opening reads and validates the header, metadata and table only; tensor bytes are not
/// touched until a kernel reads them (so opening time does not grow with model size).
/// Every offset and size was checked against the file size before it is exposed.
public final class RillFile: @unchecked Sendable {
    public let path: String
    public let mapping: MappedFile
    public let header: RillHeader
    public let metadata: RillMetadata
    /// Tensors in file order.
    public let tensors: [TensorSpec]
    private let index: [String: Int]

    public init(path: String) throws(RillFileError) {
        self.path = path
        mapping = try MappedFile(path: path)
        let base = mapping.base
        header = try RillHeader.parse(base, fileSize: mapping.size, path: path)

        let metaBytes = UnsafeRawBufferPointer(start: base + Int(header.metadataOffset), count: Int(header.metadataLength))
        let metaSum = xxh64(metaBytes.baseAddress!, count: metaBytes.count)
        guard metaSum == header.metadataXXH64 else {
            throw .checksumMismatch(path: path, field: "metadata", expected: header.metadataXXH64, found: metaSum)
        }
        do {
            try checkJSONBytes(metaBytes)  // Swift 6.0's JSONDecoder traps on some bad keys
            metadata = try JSONDecoder().decode(RillMetadata.self, from: Data(metaBytes))
        } catch {
            throw .badJSON(path: path, field: "metadata", reason: describeDecodingError(error))
        }
        try metadata.config.validate(path: path)
        try checkSpecialTokenIDs(bos: metadata.bosTokenID, eos: metadata.eosTokenID, path: path, field: "metadata")

        let tableSum = xxh64(base + Int(header.tableOffset), count: Int(header.tableLength))
        guard tableSum == header.tableXXH64 else {
            throw .checksumMismatch(path: path, field: "tensor_table", expected: header.tableXXH64, found: tableSum)
        }
        tensors = try TensorSpec.parseTable(
            base + Int(header.tableOffset), length: Int(header.tableLength), count: Int(header.tensorCount),
            dataRange: header.dataOffset..<(header.dataOffset + header.dataLength), path: path)
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.index = index
        readAheadSmallTensors()
    }

    /// The models check every small f32 tensor at open; writers put them first in the data
    /// region (§3), so one read-ahead of that span replaces a cold page fault per tensor.
    private func readAheadSmallTensors() {
        var end = header.dataOffset
        for t in tensors.sorted(by: { $0.offset < $1.offset }) {
            guard t.isSmallF32, t.offset <= alignUpU64(end) else { break }
            end = t.offset + t.length
        }
        if end > header.dataOffset {
            mapping.willNeed(offset: Int(header.dataOffset), length: Int(end - header.dataOffset))
        }
    }

    private func alignUpU64(_ x: UInt64) -> UInt64 {
        let a = UInt64(RillHeader.alignment)
        return (x + a - 1) / a * a
    }

    public func spec(_ name: String) -> TensorSpec? { index[name].map { tensors[$0] } }

    /// The named tensor as a view into the mapping; throws when absent.
    public func tensor(_ name: String) throws(RillFileError) -> TensorView {
        guard let s = spec(name) else { throw .missingTensor(path: path, name: name) }
        // Layout validity and the byte range were checked when the table was parsed.
        return TensorView(name: name, shape: s.shape, layout: s.layout!, base: mapping.base + Int(s.offset), owner: mapping)
    }

    /// The named tensor, checked to have `shape` (and, when given, one of `types`).
    public func tensor(_ name: String, shape: [Int], types: Set<QuantType>? = nil) throws(RillFileError) -> TensorView {
        let t = try tensor(name)
        guard t.shape == shape else {
            throw .invalidField(path: path, field: "tensor '\(name)'.shape", expected: "\(shape)", found: "\(t.shape)")
        }
        if let types, !types.contains(t.type) {
            throw .invalidField(path: path, field: "tensor '\(name)'.type", expected: types.map(\.description).sorted().joined(separator: " or "), found: "\(t.type)")
        }
        return t
    }

    /// The tokenizer section (a Hugging Face `tokenizer.json`), checksum-verified; nil when the
    /// file carries none.
    public func tokenizerBytes() throws(RillFileError) -> [UInt8]? {
        guard header.tokenizerLength > 0 else { return nil }
        let p = mapping.base + Int(header.tokenizerOffset)
        let n = Int(header.tokenizerLength)
        let sum = xxh64(p, count: n)
        guard sum == header.tokenizerXXH64 else {
            throw .checksumMismatch(path: path, field: "tokenizer", expected: header.tokenizerXXH64, found: sum)
        }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }

    /// Checks every tensor's checksum; returns the names that fail (empty when all match).
    public func verify(progress: ((Int, Int) -> Void)? = nil) -> [(name: String, expected: UInt64, found: UInt64)] {
        var bad: [(String, UInt64, UInt64)] = []
        for (i, t) in tensors.enumerated() {
            let sum = xxh64(mapping.base + Int(t.offset), count: Int(t.length))
            if sum != t.xxh64 { bad.append((t.name, t.xxh64, sum)) }
            progress?(i + 1, tensors.count)
        }
        return bad
    }

    /// A 64-bit fingerprint of the model: XXH64 over the header and the tensor table. Two
    /// files with equal fingerprints hold the same tensors in the same places.
    public var fingerprint: UInt64 {
        var h = xxh64(mapping.base, count: RillHeader.size)
        h = xxh64(mapping.base + Int(header.tableOffset), count: Int(header.tableLength), seed: h)
        return h
    }
}

/// Checks that BOS/EOS ids fit the `Int32` token ids the runtime uses (they are converted with
/// `Int32(_:)`, which traps on a value out of range); `field` prefixes the field names.
public func checkSpecialTokenIDs(bos: Int?, eos: Int?, path: String, field: String) throws(RillFileError) {
    for (name, id) in [("bos_token_id", bos), ("eos_token_id", eos)] {
        if let id, !(0...Int(Int32.max)).contains(id) {
            throw .invalidField(path: path, field: "\(field).\(name)", expected: "a token id in 0…\(Int32.max)", found: "\(id)")
        }
    }
}

/// A short, user-facing description of a JSONDecoder error (the field path and the reason).
public func describeDecodingError(_ error: Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    func pathString(_ ctx: DecodingError.Context) -> String {
        let p = ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        return p.isEmpty ? "" : "at '\(p)': "
    }
    switch e {
    case let .keyNotFound(key, ctx): return "\(pathString(ctx))missing field '\(key.stringValue)'"
    case let .typeMismatch(type, ctx): return "\(pathString(ctx))expected \(type): \(ctx.debugDescription)"
    case let .valueNotFound(type, ctx): return "\(pathString(ctx))expected a \(type), found null"
    case let .dataCorrupted(ctx): return "\(pathString(ctx))\(ctx.debugDescription)"
    @unknown default: return "\(error)"
    }
}
