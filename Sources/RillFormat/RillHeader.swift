/// The fixed 128-byte header at the start of every `.rill` file (`Formats/rill.md` §3).
/// All integers little-endian.
public struct RillHeader: Sendable, Equatable {
    /// `0x89 'R' 'I' 'L' 'L' '\r' '\n' 0x1A`: a high byte and CR/LF so that a text-mode or
    /// 7-bit transfer that damaged the file is caught at the first read.
    public static let magic: [UInt8] = [0x89, 0x52, 0x49, 0x4C, 0x4C, 0x0D, 0x0A, 0x1A]
    public static let size = 128
    public static let currentMajor: UInt16 = 2
    /// The newest minor version this code writes (§11): 2.1 adds `config_sources` and
    /// `provenance.source_dtype`, 2.2 the architecture `subllm`, 2.3 `tokenizer.chat_template`, 2.4 the storage type
    /// `int4k`, 2.5 `quantization.calibration`.
    /// A writer stamps the lowest minor whose features the file uses
    /// (`RillMetadata.minimumMinorVersion`).
    public static let currentMinor: UInt16 = 5
    /// Tensor data offsets are multiples of this.
    public static let alignment = 64

    public var major: UInt16 = RillHeader.currentMajor
    public var minor: UInt16 = RillHeader.currentMinor
    public var fileSize: UInt64 = 0
    public var metadataOffset: UInt64 = 0
    public var metadataLength: UInt64 = 0
    public var tokenizerOffset: UInt64 = 0
    public var tokenizerLength: UInt64 = 0
    public var tableOffset: UInt64 = 0
    public var tableLength: UInt64 = 0
    public var tensorCount: UInt32 = 0
    public var dataOffset: UInt64 = 0
    public var dataLength: UInt64 = 0
    public var metadataXXH64: UInt64 = 0
    public var tokenizerXXH64: UInt64 = 0
    public var tableXXH64: UInt64 = 0

    public init() {}

    /// The 128 bytes, with the header checksum at bytes 120..<128.
    public func encoded() -> [UInt8] {
        var b = ByteWriter()
        b.append(RillHeader.magic)
        b.append(major)
        b.append(minor)
        b.append(UInt32(RillHeader.size))
        b.append(fileSize)
        b.append(metadataOffset)
        b.append(metadataLength)
        b.append(tokenizerOffset)
        b.append(tokenizerLength)
        b.append(tableOffset)
        b.append(tableLength)
        b.append(tensorCount)
        b.append(UInt32(0))
        b.append(dataOffset)
        b.append(dataLength)
        b.append(metadataXXH64)
        b.append(tokenizerXXH64)
        b.append(tableXXH64)
        precondition(b.bytes.count == 120)
        b.append(xxh64(b.bytes))
        return b.bytes
    }

    /// Parses and checks the header against the real size of the file: magic, version,
    /// checksum, and every section inside the file.
    public static func parse(_ p: UnsafeRawPointer, fileSize: Int, path: String) throws(RillFileError) -> RillHeader {
        let size = UInt64(fileSize)
        guard fileSize >= magic.count else {
            throw .truncated(path: path, field: "magic", needed: UInt64(magic.count), fileSize: size)
        }
        for i in 0..<magic.count where p.load(fromByteOffset: i, as: UInt8.self) != magic[i] {
            throw .badMagic(path: path)
        }
        guard fileSize >= RillHeader.size else {
            throw .truncated(path: path, field: "header", needed: UInt64(RillHeader.size), fileSize: size)
        }
        var r = ByteReader(base: p, count: RillHeader.size)
        r.skip(8)
        var h = RillHeader()
        h.major = r.u16()
        h.minor = r.u16()
        guard h.major == currentMajor else {
            throw .unsupportedVersion(path: path, major: h.major, minor: h.minor, supported: currentMajor)
        }
        let headerSize = r.u32()
        let stored = p.loadUnaligned(fromByteOffset: 120, as: UInt64.self).littleEndian
        let computed = xxh64(p, count: 120)
        guard stored == computed else {
            throw .checksumMismatch(path: path, field: "header", expected: stored, found: computed)
        }
        guard headerSize == UInt32(RillHeader.size) else {
            throw .invalidField(path: path, field: "header.header_size", expected: "\(RillHeader.size)", found: "\(headerSize)")
        }
        h.fileSize = r.u64()
        h.metadataOffset = r.u64()
        h.metadataLength = r.u64()
        h.tokenizerOffset = r.u64()
        h.tokenizerLength = r.u64()
        h.tableOffset = r.u64()
        h.tableLength = r.u64()
        h.tensorCount = r.u32()
        _ = r.u32()
        h.dataOffset = r.u64()
        h.dataLength = r.u64()
        h.metadataXXH64 = r.u64()
        h.tokenizerXXH64 = r.u64()
        h.tableXXH64 = r.u64()

        guard h.fileSize == size else {
            if h.fileSize > size {
                throw .truncated(path: path, field: "header.file_size", needed: h.fileSize, fileSize: size)
            }
            throw .invalidField(path: path, field: "header.file_size", expected: "\(size) (the file's size)", found: "\(h.fileSize)")
        }
        func section(_ name: String, _ off: UInt64, _ len: UInt64) throws(RillFileError) {
            let (end, o) = off.addingReportingOverflow(len)
            guard !o, off >= UInt64(RillHeader.size), end <= size else {
                throw .invalidField(path: path, field: "header.\(name)", expected: "a range inside the file (\(RillHeader.size)…\(size))", found: "offset \(off) length \(len)")
            }
        }
        try section("metadata", h.metadataOffset, h.metadataLength)
        if h.tokenizerLength > 0 { try section("tokenizer", h.tokenizerOffset, h.tokenizerLength) }
        try section("tensor_table", h.tableOffset, h.tableLength)
        try section("data", h.dataOffset, h.dataLength)
        guard h.metadataLength <= UInt64(ModelLimits.maxMetadataBytes) else {
            throw .invalidField(path: path, field: "header.metadata_length", expected: "at most \(ModelLimits.maxMetadataBytes)", found: "\(h.metadataLength)")
        }
        guard h.tokenizerLength <= UInt64(ModelLimits.maxTokenizerBytes) else {
            throw .invalidField(path: path, field: "header.tokenizer_length", expected: "at most \(ModelLimits.maxTokenizerBytes)", found: "\(h.tokenizerLength)")
        }
        // Sections in the order the writer lays them out, none overlapping the next.
        let tokenizerEnd = h.tokenizerLength > 0 ? h.tokenizerOffset + h.tokenizerLength : h.metadataOffset + h.metadataLength
        guard h.metadataOffset + h.metadataLength <= (h.tokenizerLength > 0 ? h.tokenizerOffset : h.tableOffset),
              tokenizerEnd <= h.tableOffset, h.tableOffset + h.tableLength <= h.dataOffset
        else {
            throw .invalidField(path: path, field: "header", expected: "metadata, tokenizer, tensor table and data in order, not overlapping", found: "overlapping sections")
        }
        guard h.tensorCount <= UInt32(ModelLimits.maxTensors) else {
            throw .invalidField(path: path, field: "header.tensor_count", expected: "at most \(ModelLimits.maxTensors)", found: "\(h.tensorCount)")
        }
        guard h.dataOffset % UInt64(alignment) == 0 else {
            throw .invalidField(path: path, field: "header.data_offset", expected: "a multiple of \(alignment)", found: "\(h.dataOffset)")
        }
        return h
    }
}

/// Little-endian serialisation into a growing byte array (writer side only).
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Little-endian reads from a buffer whose length the caller has checked.
struct ByteReader {
    let base: UnsafeRawPointer
    let count: Int
    var offset = 0
    init(base: UnsafeRawPointer, count: Int) {
        self.base = base
        self.count = count
    }
    var remaining: Int { count - offset }
    mutating func skip(_ n: Int) { offset += n }
    mutating func u8() -> UInt8 { defer { offset += 1 }; return base.load(fromByteOffset: offset, as: UInt8.self) }
    mutating func u16() -> UInt16 { defer { offset += 2 }; return UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    mutating func u32() -> UInt32 { defer { offset += 4 }; return UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    mutating func u64() -> UInt64 { defer { offset += 8 }; return UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
}
