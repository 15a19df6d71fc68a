/// One entry of the tensor table (`Formats/rill.md` §5).
public struct TensorSpec: Sendable, Equatable {
    public var name: String
    public var type: QuantType
    /// Outermost dimension first, as in PyTorch; the last is the input (row) dimension.
    public var shape: [Int]
    /// Absolute offset of the tensor's first byte; a multiple of 64.
    public var offset: UInt64
    /// Bytes, equal to the layout's `byteCount` for `type` and `shape`.
    public var length: UInt64
    /// XXH64 of the tensor's bytes.
    public var xxh64: UInt64

    /// Largest f32 tensor the writer places in the small-tensor span at the front of the
    /// data region (`Formats/rill.md` §3).
    public static let smallF32Bytes: UInt64 = 1 << 20

    /// An f32 tensor of at most ``smallF32Bytes``: what models read whole at open.
    public var isSmallF32: Bool { type == .f32 && length <= Self.smallF32Bytes }

    public init(name: String, type: QuantType, shape: [Int], offset: UInt64, length: UInt64, xxh64: UInt64) {
        self.name = name
        self.type = type
        self.shape = shape
        self.offset = offset
        self.length = length
        self.xxh64 = xxh64
    }

    public var layout: TensorLayout? { TensorLayout(type: type, shape: shape) }
    public var elementCount: Int { shape.reduce(1, *) }

    /// Serialised entry: u16 name length, name (UTF-8), u8 type, u8 rank, u16 zero,
    /// rank × u64 dims, u64 offset, u64 length, u64 xxh64.
    func encoded() -> [UInt8] {
        var b = ByteWriter()
        let nameBytes = Array(name.utf8)
        b.append(UInt16(nameBytes.count))
        b.append(nameBytes)
        b.append(type.rawValue)
        b.append(UInt8(shape.count))
        b.append(UInt16(0))
        for d in shape { b.append(UInt64(d)) }
        b.append(offset)
        b.append(length)
        b.append(xxh64)
        return b.bytes
    }

    /// Parses the table (`count` entries in `length` bytes at `p`) and checks each entry
    /// against the data region: offsets aligned and inside it, lengths matching the shapes,
    /// names unique and valid UTF-8, no two tensors overlapping.
    static func parseTable(
        _ p: UnsafeRawPointer, length: Int, count: Int, dataRange: Range<UInt64>, path: String
    ) throws(RillFileError) -> [TensorSpec] {
        var r = ByteReader(base: p, count: length)
        var specs: [TensorSpec] = []
        // An entry takes at least 39 bytes (a 1-byte name, rank 1): reserve no more entries than
        // the table can hold, whatever the header's count says.
        specs.reserveCapacity(min(count, length / 39))
        var names = Set<String>()
        for i in 0..<count {
            let field = "tensor_table[\(i)]"
            func need(_ n: Int, _ what: String) throws(RillFileError) {
                guard r.remaining >= n else {
                    throw .invalidField(path: path, field: "\(field).\(what)", expected: "\(n) more bytes in the table", found: "\(r.remaining)")
                }
            }
            try need(2, "name_length")
            let nameLen = Int(r.u16())
            guard nameLen > 0, nameLen <= ModelLimits.maxNameLength else {
                throw .invalidField(path: path, field: "\(field).name_length", expected: "1…\(ModelLimits.maxNameLength)", found: "\(nameLen)")
            }
            try need(nameLen + 4, "name")
            let nameBytes = UnsafeRawBufferPointer(start: p + r.offset, count: nameLen)
            guard let name = String(validating: nameBytes, as: UTF8.self) else {
                throw .invalidField(path: path, field: "\(field).name", expected: "UTF-8", found: "invalid bytes")
            }
            r.skip(nameLen)
            let field2 = "tensor '\(name)'"
            let rawType = r.u8()
            guard let type = QuantType(rawValue: rawType) else {
                throw .invalidField(path: path, field: "\(field2).type", expected: "0…4 (f32, f16, int8, int4, int4k)", found: "\(rawType)")
            }
            let rank = Int(r.u8())
            _ = r.u16()
            guard rank >= 1, rank <= ModelLimits.maxRank else {
                throw .invalidField(path: path, field: "\(field2).rank", expected: "1…\(ModelLimits.maxRank)", found: "\(rank)")
            }
            try need(rank * 8 + 24, "dims")
            var shape: [Int] = []
            for _ in 0..<rank {
                let d = r.u64()
                guard d >= 1, d <= UInt64(1) << 40 else {
                    throw .invalidField(path: path, field: "\(field2).shape", expected: "dimensions in 1…2^40", found: "\(d)")
                }
                shape.append(Int(d))
            }
            let offset = r.u64()
            let len = r.u64()
            let sum = r.u64()
            guard let layout = TensorLayout(type: type, shape: shape) else {
                throw .invalidField(path: path, field: "\(field2).shape", expected: "a size that fits in memory", found: "\(shape)")
            }
            guard UInt64(layout.byteCount) == len else {
                throw .invalidField(path: path, field: "\(field2).length", expected: "\(layout.byteCount) (\(type) \(shape))", found: "\(len)")
            }
            guard offset % UInt64(RillHeader.alignment) == 0 else {
                throw .invalidField(path: path, field: "\(field2).offset", expected: "a multiple of \(RillHeader.alignment)", found: "\(offset)")
            }
            let (end, o) = offset.addingReportingOverflow(len)
            guard !o, offset >= dataRange.lowerBound, end <= dataRange.upperBound else {
                throw .invalidField(path: path, field: "\(field2).offset", expected: "inside the data region \(dataRange.lowerBound)…\(dataRange.upperBound)", found: "\(offset)…\(end)")
            }
            guard names.insert(name).inserted else {
                throw .invalidField(path: path, field: "\(field2).name", expected: "a unique name", found: "a duplicate")
            }
            specs.append(TensorSpec(name: name, type: type, shape: shape, offset: offset, length: len, xxh64: sum))
        }
        guard r.remaining == 0 else {
            throw .invalidField(path: path, field: "header.tensor_table_length", expected: "\(r.offset) bytes for \(count) entries", found: "\(length)")
        }
        // Overlap check over entries sorted by offset.
        let sorted = specs.sorted { $0.offset < $1.offset }
        for i in sorted.indices.dropFirst() where sorted[i].offset < sorted[i - 1].offset + sorted[i - 1].length {
            throw .invalidField(path: path, field: "tensor '\(sorted[i].name)'.offset", expected: "no overlap with '\(sorted[i - 1].name)'", found: "\(sorted[i].offset)")
        }
        return specs
    }
}
