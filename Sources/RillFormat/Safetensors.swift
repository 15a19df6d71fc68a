import Foundation

/// Element types a safetensors file may hold that Rill reads.
public enum SafetensorsDType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", i32 = "I32", i64 = "I64"
    public var size: Int {
        switch self {
        case .f16, .bf16: return 2
        case .f32, .i32: return 4
        case .i64: return 8
        }
    }
}

/// One tensor inside a mapped safetensors file.
public struct SafetensorsTensor: @unchecked Sendable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// The tensor's bytes inside the mapping (checked to lie inside the file).
    public let bytes: UnsafeRawBufferPointer
    /// The file it lives in (for error messages).
    public let path: String
    /// The mapping, kept alive as long as this tensor.
    let owner: MappedFile

    public var elementCount: Int { shape.reduce(1, *) }

    /// The values widened to f32, row-major.
    public func floats() throws(RillFileError) -> [Float] {
        let n = elementCount
        var out = [Float](repeating: 0, count: n)
        let p = bytes.baseAddress!
        switch dtype {
        case .f32:
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<n { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
        case .bf16:
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
        case .i32, .i64:
            throw .invalidField(path: path, field: "tensor '\(name)'.dtype", expected: "a float type (F32, F16, BF16)", found: dtype.rawValue)
        }
        return out
    }

    /// The values as Int32 (I32, or I64 within range).
    public func int32s() throws(RillFileError) -> [Int32] {
        let p = bytes.baseAddress!
        switch dtype {
        case .i32:
            return (0..<elementCount).map { Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        case .i64:
            var out: [Int32] = []
            for i in 0..<elementCount {
                let v = Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                guard let w = Int32(exactly: v) else {
                    throw .invalidField(path: path, field: "tensor '\(name)'[\(i)]", expected: "an Int32 value", found: "\(v)")
                }
                out.append(w)
            }
            return out
        default:
            throw .invalidField(path: path, field: "tensor '\(name)'.dtype", expected: "I32 or I64", found: dtype.rawValue)
        }
    }
}

/// A safetensors file, mapped read-only, with a validated header.
///
/// The header is `u64` little-endian JSON length N, then N bytes of JSON
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`, then the data.
/// Validation: N within the file and at most 100 MB, every dtype known, every shape's byte
/// size equal to `end − begin`, every range inside the data, no two ranges overlapping.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let mapping: MappedFile
    public let tensors: [String: SafetensorsTensor]
    public let metadata: [String: String]

    static let maxHeaderBytes = 100 << 20

    public init(path: String) throws(RillFileError) {
        self.path = path
        mapping = try MappedFile(path: path)
        let size = mapping.size
        guard size >= 8 else { throw .truncated(path: path, field: "header length", needed: 8, fileSize: UInt64(size)) }
        let n = UInt64(littleEndian: mapping.base.loadUnaligned(as: UInt64.self))
        guard n <= UInt64(SafetensorsFile.maxHeaderBytes) else {
            throw .invalidField(path: path, field: "header length", expected: "at most \(SafetensorsFile.maxHeaderBytes) bytes", found: "\(n)")
        }
        guard 8 + n <= UInt64(size) else { throw .truncated(path: path, field: "header", needed: 8 + n, fileSize: UInt64(size)) }
        let json = Data(UnsafeRawBufferPointer(start: mapping.base + 8, count: Int(n)))
        let raw: [String: SafetensorsHeaderEntry]
        do {
            try checkJSONBytes(json)  // Swift 6.0's JSONDecoder traps on some bad keys
            raw = try JSONDecoder().decode([String: SafetensorsHeaderEntry].self, from: json)
        } catch {
            throw .badJSON(path: path, field: "header", reason: describeDecodingError(error))
        }
        let dataStart = 8 + Int(n)
        let dataLen = size - dataStart
        var tensors: [String: SafetensorsTensor] = [:]
        var meta: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        for (name, entry) in raw {
            switch entry {
            case let .metadata(m):
                guard name == "__metadata__" else {
                    throw .invalidField(path: path, field: "header.\(name)", expected: "a tensor entry", found: "a string map")
                }
                meta = m
            case let .tensor(dtypeName, shape, offsets):
                guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                    throw .invalidField(path: path, field: "tensor '\(name)'.dtype", expected: "F32, F16, BF16, I32 or I64", found: dtypeName)
                }
                guard shape.count <= 8, shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 40 }) else {
                    throw .invalidField(path: path, field: "tensor '\(name)'.shape", expected: "at most 8 dimensions in 0…2^40", found: "\(shape)")
                }
                var count = 1
                for d in shape {
                    let (c, o) = count.multipliedReportingOverflow(by: d)
                    guard !o else { throw .invalidField(path: path, field: "tensor '\(name)'.shape", expected: "a size that fits", found: "\(shape)") }
                    count = c
                }
                let (byteCount, o) = count.multipliedReportingOverflow(by: dtype.size)
                guard !o, offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataLen else {
                    throw .invalidField(path: path, field: "tensor '\(name)'.data_offsets", expected: "[begin, end] inside the \(dataLen) data bytes", found: "\(offsets)")
                }
                guard offsets[1] - offsets[0] == byteCount else {
                    throw .invalidField(path: path, field: "tensor '\(name)'.data_offsets", expected: "\(byteCount) bytes for \(dtypeName) \(shape)", found: "\(offsets[1] - offsets[0])")
                }
                ranges.append((offsets[0], offsets[1], name))
                tensors[name] = SafetensorsTensor(
                    name: name, dtype: dtype, shape: shape,
                    bytes: UnsafeRawBufferPointer(start: mapping.base + dataStart + offsets[0], count: byteCount), path: path,
                    owner: mapping)
            }
        }
        ranges.sort { $0.0 < $1.0 }
        for i in ranges.indices.dropFirst() where ranges[i].0 < ranges[i - 1].1 {
            throw .invalidField(path: path, field: "tensor '\(ranges[i].2)'.data_offsets", expected: "no overlap with '\(ranges[i - 1].2)'", found: "\(ranges[i].0)")
        }
        self.tensors = tensors
        self.metadata = meta
    }
}

enum SafetensorsHeaderEntry: Decodable {
    case tensor(dtype: String, shape: [Int], offsets: [Int])
    case metadata([String: String])

    enum Keys: String, CodingKey { case dtype, shape, dataOffsets = "data_offsets" }

    init(from decoder: Decoder) throws {
        if let m = try? decoder.singleValueContainer().decode([String: String].self) {
            self = .metadata(m)
            return
        }
        let c = try decoder.container(keyedBy: Keys.self)
        self = .tensor(
            dtype: try c.decode(String.self, forKey: .dtype), shape: try c.decode([Int].self, forKey: .shape),
            offsets: try c.decode([Int].self, forKey: .dataOffsets))
    }
}

/// The weights of a Hugging Face checkpoint folder: `model.safetensors`, or the shards named
/// by `model.safetensors.index.json`.
public final class SafetensorsCheckpoint: @unchecked Sendable {
    public let directory: String
    public let files: [SafetensorsFile]
    private let byName: [String: SafetensorsTensor]

    public init(directory: String) throws(RillFileError) {
        self.directory = directory
        let fm = FileManager.default
        let single = directory + "/model.safetensors"
        let indexPath = directory + "/model.safetensors.index.json"
        if fm.fileExists(atPath: indexPath) {
            guard let data = fm.contents(atPath: indexPath) else { throw .io(path: indexPath, operation: "read", errno: errno) }
            struct Index: Decodable { let weight_map: [String: String] }
            let index: Index
            do {
                try checkJSONBytes(data)  // Swift 6.0's JSONDecoder traps on some bad keys
                index = try JSONDecoder().decode(Index.self, from: data)
            } catch {
                throw .badJSON(path: indexPath, field: "weight_map", reason: describeDecodingError(error))
            }
            var files: [SafetensorsFile] = []
            var byName: [String: SafetensorsTensor] = [:]
            for shard in Set(index.weight_map.values).sorted() {
                guard !shard.contains("/"), !shard.hasPrefix(".") else {
                    throw .invalidField(path: indexPath, field: "weight_map", expected: "shard file names in the same folder", found: shard)
                }
                let f = try SafetensorsFile(path: directory + "/" + shard)
                files.append(f)
                for (name, t) in f.tensors { byName[name] = t }
            }
            for (name, shard) in index.weight_map where byName[name]?.path != directory + "/" + shard {
                throw .invalidField(path: indexPath, field: "weight_map.\(name)", expected: "a tensor stored in \(shard)", found: "not there")
            }
            self.files = files
            self.byName = byName
        } else if fm.fileExists(atPath: single) {
            let f = try SafetensorsFile(path: single)
            files = [f]
            byName = f.tensors
        } else {
            throw .io(path: single, operation: "find model.safetensors or model.safetensors.index.json", errno: ENOENT)
        }
    }

    public var names: [String] { byName.keys.sorted() }

    public func tensor(_ name: String) -> SafetensorsTensor? { byName[name] }

    /// The tensor, checked to exist and have `shape`.
    public func tensor(_ name: String, shape: [Int]) throws(RillFileError) -> SafetensorsTensor {
        guard let t = byName[name] else { throw .missingTensor(path: directory, name: name) }
        guard t.shape == shape else {
            throw .invalidField(path: t.path, field: "tensor '\(name)'.shape", expected: "\(shape)", found: "\(t.shape)")
        }
        return t
    }
}
