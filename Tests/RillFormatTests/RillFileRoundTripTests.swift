import RillFormat
import XCTest

/// RillWriter → RillFile → TensorView round trips, and the file's bytes against the layout
/// `Formats/rill.md` §2–§5 gives (read with `RawRill`, which does not use the format code).
final class RillFileRoundTripTests: XCTestCase {
    func testEveryTypeRoundTripsThroughAFile() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        var rng = SplitMix64(seed: 11)
        let shapes: [[Int]] = [[1, 1], [7, 31], [7, 33], [1, 95], [3, 257], [2, 3, 40], [2, 2, 2, 33], [5]]
        var pending: [PendingTensor] = []
        var expected: [String: OwnedTensor] = [:]
        for type in QuantType.allCases {
            for shape in shapes {
                let name = "\(type).\(shape.map(String.init).joined(separator: "x"))"
                let values = rng.floats(shape.reduce(1, *), scale: 4)
                pending.append(PendingTensor(name: name, type: type, shape: shape) { values })
                expected[name] = OwnedTensor(name: name, shape: shape, type: type, values: values)
            }
        }
        try RillWriter.write(to: path, metadata: SmallFile.metadata(), tokenizer: SmallFile.tokenizer, tensors: pending)

        let file = try RillFile(path: path)
        defer { withExtendedLifetime(file) {} }  // views point into its mapping
        XCTAssertEqual(file.tensors.map(\.name), pending.map(\.name), "table in write order")
        XCTAssert(file.verify().isEmpty)
        for p in pending {
            let view = try file.tensor(p.name, shape: p.shape, types: [p.type])
            let ref = expected[p.name]!.view
            XCTAssertEqual(view.layout, ref.layout)
            XCTAssertEqual(Int(bitPattern: view.base) % 64, 0, "\(p.name) is 64-byte aligned in the mapping")
            var got = [Float](repeating: .nan, count: view.cols)
            var want = [Float](repeating: .nan, count: view.cols)
            for r in 0..<view.rows {
                got.withUnsafeMutableBufferPointer { view.dequantizeRow(r, into: $0) }
                want.withUnsafeMutableBufferPointer { ref.dequantizeRow(r, into: $0) }
                XCTAssertEqual(got, want, "\(p.name) row \(r)")
            }
        }
    }

    func testMetadataAndTokenizerRoundTrip() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        try SmallFile.write(to: path)
        let file = try RillFile(path: path)
        XCTAssertEqual(file.metadata, SmallFile.metadata())
        XCTAssertEqual(try file.tokenizerBytes(), SmallFile.tokenizer)
    }

    func testFileWithoutTokenizerHasEmptyTokenizerSection() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        try SmallFile.write(to: path, tokenizer: false)
        let file = try RillFile(path: path)
        XCTAssertNil(try file.tokenizerBytes())
        XCTAssertNil(file.metadata.tokenizer)
        let raw = try RawRill(path: path)
        XCTAssertEqual(raw.u64(RawRill.H.tokenizerOffset), 0)
        XCTAssertEqual(raw.u64(RawRill.H.tokenizerLength), 0)
        XCTAssertEqual(raw.u64(RawRill.H.tokenizerXXH64), 0)
    }

    func testFileWithNoTensorsOpens() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        try RillWriter.write(to: path, metadata: SmallFile.metadata(), tokenizer: nil, tensors: [])
        let file = try RillFile(path: path)
        XCTAssertEqual(file.tensors.count, 0)
        XCTAssertEqual(file.header.dataLength, 0)
    }

    /// Every header field at the offset the spec gives, sections in the spec's order, and the
    /// checksums equal to XXH64 of the bytes they cover.
    func testHeaderFieldsFollowTheSpecification() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        try SmallFile.write(to: path)
        let raw = try RawRill(path: path)
        let b = raw.bytes
        typealias H = RawRill.H
        XCTAssertEqual(Array(b[0..<8]), [0x89, 0x52, 0x49, 0x4C, 0x4C, 0x0D, 0x0A, 0x1A])
        XCTAssertEqual(b.u16(at: H.major), 2)
        XCTAssertEqual(b.u16(at: H.minor), 0)
        XCTAssertEqual(b.u32(at: H.headerSize), 128)
        XCTAssertEqual(raw.u64(H.fileSize), UInt64(b.count))
        XCTAssertEqual(raw.u64(H.metadataOffset), 128)
        XCTAssertEqual(raw.tokenizerRange.lowerBound, raw.metadataRange.upperBound)
        XCTAssertEqual(raw.tableRange.lowerBound, raw.tokenizerRange.upperBound)
        XCTAssertEqual(raw.tensorCount, SmallFile.shapes.count)
        XCTAssertEqual(b.u32(at: H.reserved), 0)
        let dataOffset = Int(raw.u64(H.dataOffset))
        XCTAssertEqual(dataOffset, (raw.tableRange.upperBound + 63) / 64 * 64)
        XCTAssertEqual(dataOffset + Int(raw.u64(H.dataLength)), b.count)
        XCTAssertEqual(raw.u64(H.metadataXXH64), xxh64(Array(b[raw.metadataRange])))
        XCTAssertEqual(raw.u64(H.tokenizerXXH64), xxh64(Array(b[raw.tokenizerRange])))
        XCTAssertEqual(raw.u64(H.tableXXH64), xxh64(Array(b[raw.tableRange])))
        XCTAssertEqual(raw.u64(H.headerXXH64), xxh64(Array(b[0..<120])))
        XCTAssertEqual(Array(b[raw.tokenizerRange]), SmallFile.tokenizer, "the tokenizer section is the bytes given, verbatim")
        let header = try RillFile(path: path).header
        XCTAssertEqual(header.encoded(), Array(b[0..<128]))
    }

    /// Table entries packed back to back, in the writer's order; in the data region the small
    /// f32 tensors first, then the others, each in table order and each at the first multiple
    /// of 64 after the previous one, with its length from the layout and its XXH64 over exactly
    /// those bytes; padding bytes zero.
    func testTensorTableEntriesFollowTheSpecification() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        try SmallFile.write(to: path)
        let raw = try RawRill(path: path)
        let b = raw.bytes
        let entries = raw.entries()
        XCTAssertEqual(entries.last?.end, raw.tableRange.upperBound)
        let pairs = Array(zip(entries, SmallFile.shapes))
        let isSmallF32 = { (s: (String, QuantType, [Int])) in
            s.1 == .f32 && TensorLayout(type: s.1, shape: s.2)!.byteCount <= 1 << 20
        }
        let placed = pairs.filter { isSmallF32($0.1) } + pairs.filter { !isSmallF32($0.1) }
        XCTAssert(placed.map(\.1.0) != pairs.map(\.1.0), "the small file should exercise the reordering")
        var cursor = Int(raw.u64(RawRill.H.dataOffset))
        for (e, s) in placed {
            XCTAssertEqual(e.name, s.0)
            XCTAssertEqual(e.nameLength, s.0.utf8.count)
            XCTAssertEqual(b[e.type], s.1.rawValue)
            XCTAssertEqual(Int(b[e.rank]), s.2.count)
            XCTAssertEqual(b.u16(at: e.reserved), 0)
            XCTAssertEqual((0..<s.2.count).map { Int(b.u64(at: e.dims + 8 * $0)) }, s.2)
            let offset = Int(b.u64(at: e.offset)), length = Int(b.u64(at: e.length))
            guard offset >= cursor else {
                XCTFail("\(e.name) at \(offset), before the end of the previous tensor (\(cursor))")
                return
            }
            XCTAssert(b[cursor..<offset].allSatisfy { $0 == 0 }, "padding before \(e.name)")
            XCTAssertEqual(offset, (cursor + 63) / 64 * 64, e.name)
            XCTAssertEqual(length, TensorLayout(type: s.1, shape: s.2)!.byteCount, e.name)
            XCTAssertEqual(b.u64(at: e.xxh64), xxh64(Array(b[offset..<(offset + length)])), e.name)
            cursor = offset + length
        }
        XCTAssertEqual(cursor, b.count, "the file ends with the last tensor")
    }

    func testMetadataIsUTF8JSONWithTheDocumentedKeys() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        try SmallFile.write(to: path)
        let raw = try RawRill(path: path)
        let json = try JSONSerialization.jsonObject(with: Data(raw.bytes[raw.metadataRange])) as! [String: Any]
        XCTAssertEqual(Set(json.keys), ["architecture", "config", "bos_token_id", "eos_token_id", "tokenizer", "provenance", "quantization"])
        XCTAssertEqual(json["architecture"] as? String, "mamba")
        let config = json["config"] as! [String: Any]
        XCTAssertEqual(Set(config.keys), [
            "hidden_size", "num_layers", "vocab_size", "state_size", "conv_kernel", "intermediate_size",
            "time_step_rank", "layer_norm_epsilon", "use_conv_bias", "use_bias", "tie_word_embeddings",
        ])
        XCTAssertEqual(Set((json["tokenizer"] as! [String: Any]).keys), ["format", "model", "vocab_size", "add_bos"])
        XCTAssertEqual(Set((json["provenance"] as! [String: Any]).keys), ["converter", "source_architecture", "source_files"])
        XCTAssertEqual(Set((json["quantization"] as! [String: Any]).keys), ["requested", "overrides"])
    }

    func testWriterRefusesDuplicateNamesAndEmptyShapesAndLeavesNothing() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        let a = PendingTensor(name: "a", type: .f32, shape: [2]) { [1, 2] }
        assertRillError(.invalidField, field: "tensor 'a'") {
            try RillWriter.write(to: path, metadata: SmallFile.metadata(), tokenizer: nil, tensors: [a, a])
        }
        let zero = PendingTensor(name: "z", type: .f32, shape: [2, 0]) { [] }
        assertRillError(.invalidField, field: "tensor 'z'.shape") {
            try RillWriter.write(to: path, metadata: SmallFile.metadata(), tokenizer: nil, tensors: [zero])
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    /// The writer must never produce a file its own reader refuses: names of 1…1024 UTF-8
    /// bytes, rank 1…4 (Formats/rill.md §5). (Found: it writes all three; names of 65536 bytes
    /// or more would even trap in `UInt16(_:)` — see the report.)
    func testWriterRefusesTensorsTheReaderWouldRefuse() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        let cases = [
            PendingTensor(name: "", type: .f32, shape: [1]) { [1] },
            PendingTensor(name: String(repeating: "n", count: 1025), type: .f32, shape: [1]) { [1] },
            PendingTensor(name: "rank5", type: .f32, shape: [1, 1, 1, 1, 2]) { [1, 2] },
        ]
        var written: [String] = []
        for t in cases {
            do {
                try RillWriter.write(to: path, metadata: SmallFile.metadata(), tokenizer: nil, tensors: [t])
                written.append("'\(t.name.prefix(8))' (\(t.name.utf8.count) bytes) \(t.shape)")
            } catch let e as RillFileError {
                XCTAssertEqual(e.kind, .invalidField, "\(e)")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        XCTAssertEqual(written, [], "the writer wrote tensors that RillFile(path:) refuses")
    }

    /// A producer that fails after other tensors were written: the temporary file is removed.
    func testWriterLeavesNothingWhenAProducerThrows() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        struct Boom: Error {}
        let ok = PendingTensor(name: "ok", type: .int8, shape: [2, 64]) { [Float](repeating: 1, count: 128) }
        let bad = PendingTensor(name: "bad", type: .f32, shape: [2]) { throw Boom() }
        XCTAssertThrowsError(try RillWriter.write(to: path, metadata: SmallFile.metadata(), tokenizer: nil, tensors: [ok, bad])) {
            XCTAssert($0 is Boom)
        }
        let short = PendingTensor(name: "short", type: .f32, shape: [3]) { [1, 2] }
        assertRillError(.invalidField, field: "tensor 'short'") {
            try RillWriter.write(to: path, metadata: SmallFile.metadata(), tokenizer: nil, tensors: [ok, short])
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testWriterReplacesAnExistingFileOnlyWhenComplete() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        try SmallFile.write(to: path)
        let before = try readBytes(path)
        struct Boom: Error {}
        let bad = PendingTensor(name: "bad", type: .f32, shape: [2]) { throw Boom() }
        XCTAssertThrowsError(try RillWriter.write(to: path, metadata: SmallFile.metadata(), tokenizer: nil, tensors: [bad]))
        XCTAssertEqual(try readBytes(path), before, "the old file is untouched")
        XCTAssertEqual(files(in: dir.path, withPrefix: "m.rill.partial-"), [])
    }

    func testTemporaryPathIsBesideTheDestination() {
        XCTAssertEqual(RillWriter.temporaryPath(for: "/x/y/m.rill"), "/x/y/m.rill.partial-\(getpid())")
    }

    func testFingerprintIsStableAcrossOpensAndChangesWithTensors() throws {
        let dir = try makeTemporaryDirectory()
        let a = dir.appendingPathComponent("a.rill").path, b = dir.appendingPathComponent("b.rill").path
        try SmallFile.write(to: a)
        try SmallFile.write(to: b)
        XCTAssertEqual(try RillFile(path: a).fingerprint, try RillFile(path: b).fingerprint)
        let one = PendingTensor(name: "x", type: .f32, shape: [1]) { [1] }
        try RillWriter.write(to: b, metadata: SmallFile.metadata(), tokenizer: SmallFile.tokenizer, tensors: [one])
        XCTAssertNotEqual(try RillFile(path: a).fingerprint, try RillFile(path: b).fingerprint)
    }

    func testTensorLookupChecksShapeAndType() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("m.rill").path
        try SmallFile.write(to: path)
        let file = try RillFile(path: path)
        XCTAssertNoThrow(try file.tensor("w.int4", shape: [3, 33], types: [.int4, .int8]))
        assertRillError(.missingTensor, field: "nope") { try file.tensor("nope") }
        assertRillError(.invalidField, field: "tensor 'w.int4'.shape") { try file.tensor("w.int4", shape: [33, 3]) }
        assertRillError(.invalidField, field: "tensor 'w.int4'.type") { try file.tensor("w.int4", shape: [3, 33], types: [.f32]) }
    }
}
