import Foundation
import RillFormat
import XCTest

/// A bad file is an error naming the file and the field — never a crash. Each test damages a
/// valid small file in one way; where a checksum would catch the damage first, the checksums
/// are recomputed (`RawRill.reseal`) so that the deeper check is the one exercised.
final class RillFileValidationTests: XCTestCase {
    typealias H = RawRill.H

    /// A valid small file's bytes and a path to write damaged copies to.
    func smallFile() throws -> (RawRill, String) {
        let dir = try makeTemporaryDirectory()
        let good = dir.appendingPathComponent("good.rill").path
        try SmallFile.write(to: good)
        return (try RawRill(path: good), dir.appendingPathComponent("bad.rill").path)
    }

    /// Writes `raw` to `path` and asserts that opening it throws `kind` naming `field`.
    func assertOpenFails(
        _ raw: RawRill, _ path: String, _ kind: RillFileError.Kind, field: String? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        try raw.write(to: path)
        assertRillError(kind, field: field, { try RillFile(path: path) }, file: file, line: line)
    }

    // MARK: - Truncation and single-byte damage

    func testEveryTruncationIsATruncatedError() throws {
        let (raw, path) = try smallFile()
        XCTAssertLessThan(raw.bytes.count, 8192, "keep the file small: this opens every prefix")
        try raw.write(to: path)
        for n in stride(from: raw.bytes.count - 1, through: 0, by: -1) {
            XCTAssertEqual(truncate(path, off_t(n)), 0)
            guard let e = rillError({ try RillFile(path: path) }) else { return }
            guard e.kind == .truncated else { return XCTFail("length \(n): \(e)") }
        }
    }

    func testEveryFlippedByteBeforeTheDataIsRefusedAtOpen() throws {
        let (raw, path) = try smallFile()
        try raw.write(to: path)
        let fd = open(path, O_WRONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        func put(_ byte: UInt8, at i: Int) { withUnsafeBytes(of: byte) { XCTAssertEqual(pwrite(fd, $0.baseAddress, 1, off_t(i)), 1) } }
        for range in [0..<128, raw.metadataRange, raw.tableRange] {
            for i in range {
                put(raw.bytes[i] ^ 0x10, at: i)
                defer { put(raw.bytes[i], at: i) }
                if (try? RillFile(path: path)) != nil { return XCTFail("byte \(i) flipped: opened") }
            }
        }
        XCTAssertNotNil(try? RillFile(path: path), "restored")
    }

    func testFlippedTokenizerByteIsRefusedWhenTheTokenizerIsRead() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes[raw.tokenizerRange.lowerBound + 3] ^= 1
        try bad.write(to: path)
        let file = try RillFile(path: path)
        assertRillError(.checksumMismatch, field: "tokenizer") { try file.tokenizerBytes() }
    }

    func testFlippedTensorByteIsReportedByVerify() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        let e = raw.entries()[3]
        bad.bytes[Int(raw.bytes.u64(at: e.offset)) + 5] ^= 1
        try bad.write(to: path)
        let file = try RillFile(path: path)
        XCTAssertEqual(file.verify().map(\.name), [e.name])
    }

    // MARK: - Header

    func testWrongMagicIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes[1] = UInt8(ascii: "G")
        try assertOpenFails(bad, path, .badMagic)
        // An 8-byte text file that is not a .rill file is "not a .rill file", not "truncated".
        try writeBytes(Array("hello!!\n".utf8), to: path)
        assertRillError(.badMagic) { try RillFile(path: path) }
    }

    func testUnknownMajorVersionIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes.setU16(3, at: H.major)
        bad.resealHeader()
        try bad.write(to: path)
        guard let e = rillError({ try RillFile(path: path) }) else { return }
        XCTAssertEqual(e, .unsupportedVersion(path: path, major: 3, minor: 0, supported: 2))
        // A version-1 file (planar block layout) is refused, with the advice to convert again.
        bad.bytes.setU16(1, at: H.major)
        bad.resealHeader()
        try bad.write(to: path)
        guard let old = rillError({ try RillFile(path: path) }) else { return }
        XCTAssertEqual(old, .unsupportedVersion(path: path, major: 1, minor: 0, supported: 2))
        XCTAssertTrue("\(old)".contains("convert the checkpoint again"), "\(old)")
        // Even when the rest of the header does not follow version 2's layout.
        bad.bytes.setU16(0, at: H.major)
        try assertOpenFails(bad, path, .unsupportedVersion)
    }

    func testNewerMinorVersionIsAccepted() throws {
        let (raw, path) = try smallFile()
        var newer = raw
        newer.bytes.setU16(7, at: H.minor)
        newer.resealHeader()
        try newer.write(to: path)
        let file = try RillFile(path: path)
        XCTAssertEqual(file.header.minor, 7)
        XCTAssert(file.verify().isEmpty)
    }

    func testUnknownMetadataKeysAreIgnored() throws {
        let (raw, path) = try smallFile()
        var newer = raw
        var json = raw.metadataJSON
        json.insert(contentsOf: #""zz_added_in_1_1":{"anything":[1,2,3]},"#, at: json.index(after: json.startIndex))
        newer.replaceMetadata(with: Array(json.utf8))
        newer.bytes.setU16(1, at: H.minor)
        newer.resealHeader()
        try newer.write(to: path)
        let file = try RillFile(path: path)
        XCTAssertEqual(file.metadata, SmallFile.metadata())
        XCTAssert(file.verify().isEmpty)
    }

    func testHeaderChecksumMismatchIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes[H.reserved] = 1  // a byte no other check reads
        try assertOpenFails(bad, path, .checksumMismatch, field: "header")
    }

    func testHeaderSizeOtherThan128IsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes.setU32(256, at: H.headerSize)
        bad.resealHeader()
        try assertOpenFails(bad, path, .invalidField, field: "header.header_size")
    }

    func testFileLongerThanFileSizeIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes += [0, 0, 0]
        try assertOpenFails(bad, path, .invalidField, field: "header.file_size")
    }

    func testSectionsOutsideTheFileAreRefused() throws {
        let (raw, path) = try smallFile()
        let size = UInt64(raw.bytes.count)
        let cases: [(Int, UInt64, String)] = [
            (H.metadataLength, size, "header.metadata"),
            (H.metadataOffset, 64, "header.metadata"),  // overlaps the header
            (H.tokenizerOffset, size - 1, "header.tokenizer"),
            (H.tableOffset, UInt64.max - 8, "header.tensor_table"),  // offset + length overflows
            (H.tableLength, UInt64.max, "header.tensor_table"),
            (H.dataLength, size, "header.data"),
        ]
        for (field, value, name) in cases {
            var bad = raw
            bad.bytes.setU64(value, at: field)
            bad.resealHeader()
            try assertOpenFails(bad, path, .invalidField, field: name)
        }
    }

    func testDataOffsetNotMultipleOf64IsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes.setU64(raw.u64(H.dataOffset) + 8, at: H.dataOffset)
        bad.bytes.setU64(raw.u64(H.dataLength) - 8, at: H.dataLength)
        bad.resealHeader()
        try assertOpenFails(bad, path, .invalidField, field: "header.data_offset")
    }

    func testTensorCountAbove2To20IsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes.setU32((1 << 20) + 1, at: H.tensorCount)
        bad.resealHeader()
        try assertOpenFails(bad, path, .invalidField, field: "header.tensor_count")
    }

    /// A metadata section over 64 MiB is refused before it is read (the file is sparse).
    func testMetadataOver64MiBIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        let big = UInt64(64 << 20) + 1
        let newSize = UInt64(raw.bytes.count) + big
        bad.bytes.setU64(raw.u64(H.metadataOffset), at: H.metadataOffset)
        bad.bytes.setU64(big, at: H.metadataLength)
        bad.bytes.setU64(newSize, at: H.fileSize)
        bad.resealHeader()
        try bad.write(to: path)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.truncate(atOffset: newSize)
        try h.close()
        assertRillError(.invalidField, field: "header.metadata_length") { try RillFile(path: path) }
    }

    func testTooFewTableBytesForTheTensorCountIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes.setU32(UInt32(raw.tensorCount + 1), at: H.tensorCount)
        bad.resealHeader()
        try assertOpenFails(bad, path, .invalidField, field: "tensor_table[\(raw.tensorCount)].name_length")
    }

    func testTableBytesLeftOverAfterTheLastEntryAreRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes.setU32(UInt32(raw.tensorCount - 1), at: H.tensorCount)
        bad.resealHeader()
        try assertOpenFails(bad, path, .invalidField, field: "header.tensor_table_length")
    }

    // MARK: - Metadata

    func testMetadataChecksumMismatchIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes[raw.metadataRange.lowerBound + 10] ^= 0x01
        bad.resealHeader()
        try assertOpenFails(bad, path, .checksumMismatch, field: "metadata")
    }

    func testMetadataThatIsNotJSONIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.replaceMetadata(with: Array("{\"architecture\": mamba".utf8))
        try assertOpenFails(bad, path, .badJSON, field: "metadata")
    }

    func testMetadataWithUnknownArchitectureIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.replaceMetadata(with: Array(raw.metadataJSON.replacingOccurrences(of: "\"mamba\"", with: "\"rwkv7\"").utf8))
        try bad.write(to: path)
        guard let e = rillError({ try RillFile(path: path) }) else { return }
        XCTAssertEqual(e.kind, .badJSON)
        XCTAssert(e.description.contains("rwkv7") && e.description.contains("samba"), e.description)
    }

    func testMetadataMissingAKeyIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.replaceMetadata(with: Array(raw.metadataJSON.replacingOccurrences(of: "\"state_size\"", with: "\"statesize\"").utf8))
        try bad.write(to: path)
        guard let e = rillError({ try RillFile(path: path) }) else { return }
        XCTAssertEqual(e.kind, .badJSON)
        XCTAssert(e.description.contains("state_size"), e.description)
    }

    func testMetadataConfigOutOfRangeIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.replaceMetadata(with: Array(raw.metadataJSON.replacingOccurrences(of: "\"hidden_size\":4", with: "\"hidden_size\":-4").utf8))
        try assertOpenFails(bad, path, .invalidField, field: "config.hidden_size")
    }

    // MARK: - Tensor table

    func testTableChecksumMismatchIsRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes[raw.entries()[0].type] = 1
        try assertOpenFails(bad, path, .checksumMismatch, field: "tensor_table")
    }

    /// Patches entry `i` with `patch`, reseals, and expects `field` to be named.
    func assertEntryPatchFails(
        _ i: Int, field: String, file: StaticString = #filePath, line: UInt = #line,
        _ patch: (inout [UInt8], RawRill.Entry, RawRill) -> Void
    ) throws {
        let (raw, path) = try smallFile()
        var bad = raw
        patch(&bad.bytes, raw.entries()[i], raw)
        bad.reseal()
        try assertOpenFails(bad, path, .invalidField, field: field, file: file, line: line)
    }

    func testNameLengthZeroIsRefused() throws {
        try assertEntryPatchFails(1, field: "tensor_table[1].name_length") { b, e, _ in b.setU16(0, at: e.start) }
    }

    func testNameLengthOver1024IsRefused() throws {
        try assertEntryPatchFails(1, field: "tensor_table[1].name_length") { b, e, _ in b.setU16(1025, at: e.start) }
    }

    func testNameLengthPastTheTableIsRefused() throws {
        try assertEntryPatchFails(5, field: "tensor_table[5].name") { b, e, _ in b.setU16(1000, at: e.start) }
    }

    func testNameThatIsNotUTF8IsRefused() throws {
        try assertEntryPatchFails(2, field: "tensor_table[2].name") { b, e, _ in b[e.start + 2] = 0xFF }
    }

    func testDuplicateNameIsRefused() throws {
        // "w.f16" → "w.f32", the name of entry 0.
        try assertEntryPatchFails(1, field: "tensor 'w.f32'.name") { b, e, _ in
            b.replaceSubrange((e.start + 2)..<(e.start + 7), with: Array("w.f32".utf8))
        }
    }

    /// A code a newer minor version may add: an older reader refuses the file by name.
    func testUnknownTypeCodeIsRefused() throws {
        for code: UInt8 in [5, 255] {  // 4 is int4k since 2.4
            try assertEntryPatchFails(0, field: "tensor 'w.f32'.type") { b, e, _ in b[e.type] = code }
        }
    }

    /// An int4 tensor relabelled int4k (code 4) has int4's byte count, not int4k's: refused on
    /// its length before any kernel reads it.
    func testInt4KTypeCodeWithTheWrongLengthIsRefused() throws {
        try assertEntryPatchFails(0, field: "tensor 'w.f32'.length") { b, e, _ in b[e.type] = 4 }
    }

    func testRankZeroAndRankFiveAreRefused() throws {
        try assertEntryPatchFails(0, field: "tensor 'w.f32'.rank") { b, e, _ in b[e.rank] = 0 }
        try assertEntryPatchFails(0, field: "tensor 'w.f32'.rank") { b, e, _ in b[e.rank] = 5 }
    }

    func testDimensionZeroIsRefused() throws {
        try assertEntryPatchFails(0, field: "tensor 'w.f32'.shape") { b, e, _ in b.setU64(0, at: e.dims) }
    }

    func testDimensionAbove2To40IsRefused() throws {
        try assertEntryPatchFails(0, field: "tensor 'w.f32'.shape") { b, e, _ in b.setU64((1 << 40) + 1, at: e.dims) }
    }

    func testShapeWhoseSizeOverflowsIsRefused() throws {
        try assertEntryPatchFails(0, field: "tensor 'w.f32'.shape") { b, e, _ in
            b.setU64(1 << 40, at: e.dims)
            b.setU64(1 << 40, at: e.dims + 8)
        }
    }

    func testShapeThatDisagreesWithTheLengthIsRefused() throws {
        try assertEntryPatchFails(0, field: "tensor 'w.f32'.length") { b, e, _ in b.setU64(4, at: e.dims) }
    }

    func testLengthThatDisagreesWithTheShapeIsRefused() throws {
        try assertEntryPatchFails(3, field: "tensor 'w.int4'.length") { b, e, _ in
            b.setU64(b.u64(at: e.length) - 4, at: e.length)
        }
    }

    func testUnalignedTensorOffsetIsRefused() throws {
        try assertEntryPatchFails(2, field: "tensor 'w.int8'.offset") { b, e, _ in b.setU64(b.u64(at: e.offset) + 4, at: e.offset) }
    }

    func testTensorOutsideTheDataRegionIsRefused() throws {
        try assertEntryPatchFails(5, field: "tensor 'w.rank3'.offset") { b, e, _ in b.setU64(b.u64(at: e.offset) + 64, at: e.offset) }
        try assertEntryPatchFails(0, field: "tensor 'w.f32'.offset") { b, e, raw in
            b.setU64(raw.u64(H.dataOffset) - 64, at: e.offset)
        }
        try assertEntryPatchFails(0, field: "tensor 'w.f32'.offset") { b, e, _ in b.setU64(UInt64.max - 63, at: e.offset) }
    }

    func testOverlappingTensorsAreRefused() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        let e = raw.entries()
        bad.bytes.setU64(raw.bytes.u64(at: e[0].offset), at: e[1].offset)  // w.f16 onto w.f32
        bad.reseal()
        try bad.write(to: path)
        guard let err = rillError({ try RillFile(path: path) }) else { return }
        XCTAssertEqual(err.kind, .invalidField)
        XCTAssert(err.field?.hasSuffix(".offset") == true && err.description.contains("overlap"), err.description)
    }

    // MARK: - Not a file

    func testMissingFileIsAnIOError() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("absent.rill").path
        guard let e = rillError({ try RillFile(path: path) }) else { return }
        XCTAssertEqual(e, .io(path: path, operation: "open", errno: ENOENT))
    }

    func testDirectoryIsRefused() throws {
        let dir = try makeTemporaryDirectory()
        assertRillError(.invalidField, field: "file") { try RillFile(path: dir.path) }
    }

    func testErrorMessagesNameTheFileAndTheField() throws {
        let (raw, path) = try smallFile()
        var bad = raw
        bad.bytes.setU32(UInt32.max, at: H.tensorCount)
        bad.resealHeader()
        try bad.write(to: path)
        guard let e = rillError({ try RillFile(path: path) }) else { return }
        XCTAssert(e.description.hasPrefix(path + ": header.tensor_count: expected at most 1048576"), e.description)
    }
}
