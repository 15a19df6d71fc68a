import Foundation

/// A tensor waiting to be written: its name, storage type, shape and a producer of its values
/// (row-major f32), called once when the tensor's turn comes so that only one tensor is in
/// memory at a time.
public struct PendingTensor {
    public var name: String
    public var type: QuantType
    public var shape: [Int]
    public var values: () throws -> [Float]
    /// One weight per column (the mean square of the activation it multiplies), which the
    /// int4k search weighs its errors by (``quantizeRowInt4K(_:quants:codes:importance:)``);
    /// nil, and for every other type, ignored.
    public var importance: [Float]?

    public init(name: String, type: QuantType, shape: [Int], importance: [Float]? = nil, values: @escaping () throws -> [Float]) {
        self.name = name
        self.type = type
        self.shape = shape
        self.importance = importance
        self.values = values
    }
}

/// Writes `.rill` files: everything goes to a temporary file beside the destination, which is
/// renamed into place only when complete, so a failure never leaves a partial file.
public enum RillWriter {
    /// The path of the temporary file a write to `path` uses; exposed so that a signal handler
    /// can remove it.
    public static func temporaryPath(for path: String) -> String {
        path + ".partial-\(getpid())"
    }

    /// Writes the file and returns the tensor table as written.
    /// - Parameter progress: called after each tensor with (done, total, name).
    @discardableResult
    public static func write(
        to path: String, metadata: RillMetadata, tokenizer: [UInt8]?, tensors: [PendingTensor],
        progress: (Int, Int, String) -> Void = { _, _, _ in },
        onEncoded: (_ index: Int, _ values: [Float], _ stored: TensorView) -> Void = { _, _, _ in }
    ) throws -> [TensorSpec] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let metaBytes = Array(try encoder.encode(metadata))

        // Plan the layout: header, metadata, tokenizer, table, then 64-aligned tensors.
        var specs: [TensorSpec] = []
        var layouts: [TensorLayout] = []
        var seen = Set<String>()
        guard tensors.count <= ModelLimits.maxTensors else {
            throw RillFileError.invalidField(path: path, field: "tensors", expected: "at most \(ModelLimits.maxTensors)", found: "\(tensors.count)")
        }
        guard metaBytes.count <= ModelLimits.maxMetadataBytes, (tokenizer?.count ?? 0) <= ModelLimits.maxTokenizerBytes else {
            throw RillFileError.invalidField(path: path, field: "metadata/tokenizer", expected: "within the format's limits", found: "\(metaBytes.count)/\(tokenizer?.count ?? 0) bytes")
        }
        for t in tensors {
            // Refuse here whatever the reader would refuse (names, ranks, dimensions).
            let nameLength = t.name.utf8.count
            guard nameLength >= 1, nameLength <= ModelLimits.maxNameLength else {
                throw RillFileError.invalidField(path: path, field: "tensor '\(t.name.prefix(64))'.name", expected: "1…\(ModelLimits.maxNameLength) bytes", found: "\(nameLength)")
            }
            guard (1...ModelLimits.maxRank).contains(t.shape.count), t.shape.allSatisfy({ $0 >= 1 && $0 <= 1 << 40 }) else {
                throw RillFileError.invalidField(path: path, field: "tensor '\(t.name)'.shape", expected: "rank 1…\(ModelLimits.maxRank), dimensions 1…2^40", found: "\(t.shape)")
            }
            guard let layout = TensorLayout(type: t.type, shape: t.shape) else {
                throw RillFileError.invalidField(path: path, field: "tensor '\(t.name)'.shape", expected: "positive dimensions", found: "\(t.shape)")
            }
            guard seen.insert(t.name).inserted else {
                throw RillFileError.invalidField(path: path, field: "tensor '\(t.name)'", expected: "a unique name", found: "a duplicate")
            }
            layouts.append(layout)
            specs.append(TensorSpec(name: t.name, type: t.type, shape: t.shape, offset: 0, length: UInt64(layout.byteCount), xxh64: 0))
        }
        let tableLength = specs.reduce(0) { $0 + $1.encoded().count }
        var h = RillHeader()
        h.minor = max(metadata.minimumMinorVersion, specs.map(\.type.minimumMinorVersion).max() ?? 0)
        h.metadataOffset = UInt64(RillHeader.size)
        h.metadataLength = UInt64(metaBytes.count)
        let tokBytes = tokenizer ?? []
        h.tokenizerOffset = tokBytes.isEmpty ? 0 : h.metadataOffset + h.metadataLength
        h.tokenizerLength = UInt64(tokBytes.count)
        h.tableOffset = h.metadataOffset + h.metadataLength + h.tokenizerLength
        h.tableLength = UInt64(tableLength)
        h.tensorCount = UInt32(specs.count)
        h.dataOffset = UInt64(alignUp(Int(h.tableOffset + h.tableLength), to: RillHeader.alignment))
        // Small f32 tensors first (norms, biases, decays, Mamba's A, D and conv): a reader
        // touches them all at open, and adjacent they are one read ahead instead of a page
        // fault per tensor scattered over the file (Formats/rill.md §3).
        var cursor = Int(h.dataOffset)
        let small = specs.indices.filter { specs[$0].isSmallF32 }
        for i in small + specs.indices.filter({ !specs[$0].isSmallF32 }) {
            specs[i].offset = UInt64(cursor)
            cursor = alignUp(cursor + layouts[i].byteCount, to: RillHeader.alignment)
        }
        let end = specs.map { Int($0.offset + $0.length) }.max() ?? Int(h.dataOffset)
        h.dataLength = UInt64(end) - h.dataOffset
        h.fileSize = UInt64(end)

        let tmp = temporaryPath(for: path)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            // Named by the file asked for (its folder missing or read-only), not the temporary.
            let err = errno
            throw RillFileError.io(path: path, operation: "create it (as \((tmp as NSString).lastPathComponent) beside it)", errno: err)
        }
        var done = false
        defer {
            close(fd)
            if !done { unlink(tmp) }
        }
        func pwriteAll(_ p: UnsafeRawPointer, _ n: Int, _ off: Int) throws {
            var written = 0
            while written < n {
                let r = pwrite(fd, p + written, n - written, off_t(off + written))
                if r < 0 {
                    if errno == EINTR { continue }
                    throw RillFileError.io(path: tmp, operation: "write", errno: errno)
                }
                written += r
            }
        }
        guard ftruncate(fd, off_t(end)) == 0 else { throw RillFileError.io(path: tmp, operation: "resize", errno: errno) }

        for (i, t) in tensors.enumerated() {
            let layout = layouts[i]
            let values = try t.values()
            guard values.count == layout.elementCount else {
                throw RillFileError.invalidField(path: path, field: "tensor '\(t.name)'", expected: "\(layout.elementCount) values", found: "\(values.count)")
            }
            if t.type == .f16, let big = values.firstIndex(where: { abs($0) > Float(Float16.greatestFiniteMagnitude) }) {
                throw RillFileError.invalidField(
                    path: path, field: "tensor '\(t.name)'[\(big)]",
                    expected: "a value f16 can hold (|x| ≤ 65504); store it with --override '\(t.name)=f32'", found: "\(values[big])")
            }
            let buf = UnsafeMutableRawPointer.allocate(byteCount: max(layout.byteCount, 1), alignment: 64)
            defer { buf.deallocate() }
            buf.initializeMemory(as: UInt8.self, repeating: 0, count: layout.byteCount)
            if let imp = t.importance, imp.count != layout.cols {
                throw RillFileError.invalidField(path: path, field: "importance of '\(t.name)'", expected: "\(layout.cols) weights", found: "\(imp.count)")
            }
            values.withUnsafeBufferPointer { writeQuantized($0, layout: layout, into: buf, importance: t.importance) }
            specs[i].xxh64 = xxh64(buf, count: layout.byteCount)
            onEncoded(i, values, TensorView(name: t.name, shape: t.shape, layout: layout, base: UnsafeRawPointer(buf)))
            try pwriteAll(buf, layout.byteCount, Int(specs[i].offset))
            progress(i + 1, tensors.count, t.name)
        }

        var table: [UInt8] = []
        table.reserveCapacity(tableLength)
        for s in specs { table += s.encoded() }
        h.metadataXXH64 = xxh64(metaBytes)
        h.tokenizerXXH64 = tokBytes.isEmpty ? 0 : xxh64(tokBytes)
        h.tableXXH64 = xxh64(table)
        try metaBytes.withUnsafeBytes { try pwriteAll($0.baseAddress!, $0.count, Int(h.metadataOffset)) }
        if !tokBytes.isEmpty {
            try tokBytes.withUnsafeBytes { try pwriteAll($0.baseAddress!, $0.count, Int(h.tokenizerOffset)) }
        }
        try table.withUnsafeBytes { try pwriteAll($0.baseAddress!, $0.count, Int(h.tableOffset)) }
        try h.encoded().withUnsafeBytes { try pwriteAll($0.baseAddress!, $0.count, 0) }
        guard fsync(fd) == 0 else { throw RillFileError.io(path: tmp, operation: "sync", errno: errno) }
        guard rename(tmp, path) == 0 else { throw RillFileError.io(path: path, operation: "rename into place", errno: errno) }
        done = true
        return specs
    }
}
