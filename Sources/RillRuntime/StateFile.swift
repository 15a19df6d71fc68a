import CLZ4
import Foundation
import RillFormat
import RillModels

/// Why a state file could not be saved or restored. The session is untouched in every case.
public enum StateFileError: Error, CustomStringConvertible, Equatable {
    case io(path: String, operation: String, errno: Int32)
    case notAStateFile(path: String, reason: String)
    case unsupportedVersion(path: String, major: UInt16, minor: UInt16)
    case wrongModel(path: String, expected: UInt64, found: UInt64)
    case corrupted(path: String, field: String, reason: String)

    public var description: String {
        switch self {
        case let .io(path, op, err): return "\(path): cannot \(op): \(String(cString: strerror(err)))"
        case let .notAStateFile(path, reason): return "\(path): not a rill state file: \(reason)"
        case let .unsupportedVersion(path, major, minor):
            return "\(path): state format \(major).\(minor) is not supported (this reader knows 1.x); upgrade rill"
        case let .wrongModel(path, expected, found):
            return "\(path): saved from another model (fingerprint \(hex(found)), this model is \(hex(expected)))"
        case let .corrupted(path, field, reason): return "\(path): \(field): \(reason): the file is corrupted"
        }
    }
}

/// Saves and restores a session's whole recurrent state — every state buffer, the position
/// counter and the sampler (RNG and recent tokens) — as one LZ4 frame (`Formats/state.md`),
/// so `lz4 -d` decompresses it.
public enum StateFile {
    static let magic: [UInt8] = Array("RILLSTAT".utf8)
    static let major: UInt16 = 1
    static let minor: UInt16 = 0

    /// The raw (decompressed) bytes: header, buffers, checksum.
    static func encode(session: Session, sampler: Sampler?) -> [UInt8] {
        let buffers = session.savedBuffers
        var b: [UInt8] = []
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        let recent = sampler?.recentTokens ?? []
        let payload = buffers.reduce(0) { $0 + $1.count * 4 }
        b.reserveCapacity(64 + recent.count * 4 + buffers.count * 8 + payload + 8)
        b += magic
        u16(major)
        u16(minor)
        u32(0)
        u64(session.model.file.fingerprint)
        u64(UInt64(session.position))
        u64(sampler?.rngState ?? 0)
        u32(UInt32(recent.count))
        u32(UInt32(buffers.count))
        for t in recent { u32(UInt32(bitPattern: t)) }
        for buf in buffers { u64(UInt64(buf.count)) }
        for buf in buffers { buf.appendFloats(to: &b) }
        u64(xxh64(b))
        return b
    }

    /// Writes the state to `path` (via a temporary file and rename). Returns (raw, compressed) sizes.
    @discardableResult
    public static func save(session: Session, sampler: Sampler?, to path: String) throws -> (raw: Int, compressed: Int) {
        let raw = encode(session: session, sampler: sampler)
        let frame = try lz4Frame(raw, path: path)
        let tmp = path + ".partial-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(frame)) else {
            throw StateFileError.io(path: tmp, operation: "write", errno: errno)
        }
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw StateFileError.io(path: path, operation: "rename into place", errno: errno)
        }
        return (raw.count, frame.count)
    }

    /// `raw` as one LZ4 frame with its content checksum and size set: a state file's bytes
    /// (also what the state-file fuzzers frame their mutated states with). `path` names the
    /// file in the error.
    public static func lz4Frame(_ raw: [UInt8], path: String) throws -> [UInt8] {
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        prefs.frameInfo.contentSize = UInt64(raw.count)
        let bound = LZ4F_compressFrameBound(raw.count, &prefs)
        var out = [UInt8](repeating: 0, count: bound)
        let n = raw.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                LZ4F_compressFrame(dst.baseAddress, bound, src.baseAddress, raw.count, &prefs)
            }
        }
        if LZ4F_isError(n) != 0 {
            throw StateFileError.corrupted(path: path, field: "lz4", reason: String(cString: LZ4F_getErrorName(n)))
        }
        return Array(out[0..<n])
    }

    /// Restores `path` into the session (and the sampler, when given). Everything is checked
    /// before anything is copied: on any error the session and sampler are unchanged.
    public static func load(into session: Session, sampler: Sampler?, from path: String) throws {
        let buffers = session.savedBuffers
        // The raw size for this model is known up to the recent-token count, bounded by the
        // sampler's window: decompress into a buffer of at most that size, never more.
        let fixed = 8 + 2 + 2 + 4 + 8 + 8 + 8 + 4 + 4 + buffers.count * 8 + buffers.reduce(0) { $0 + $1.count * 4 } + 8
        let maxRaw = fixed + 4 * 4096
        // Nor read a file longer than any frame of that many bytes: stored uncompressed in the
        // smallest (64 KB) blocks with block and content checksums, plus slack for the header.
        var prefs = LZ4F_preferences_t()
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled
        let maxFile = LZ4F_compressFrameBound(maxRaw, &prefs) + 1024
        var st = stat()
        guard stat(path, &st) == 0 else { throw StateFileError.io(path: path, operation: "stat", errno: errno) }
        guard Int(st.st_size) <= maxFile else {
            throw StateFileError.corrupted(path: path, field: "file size", reason: "\(st.st_size) bytes, more than the \(maxFile) a state of this model can take")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StateFileError.io(path: path, operation: "read", errno: errno == 0 ? ENOENT : errno)
        }
        let raw = try decompress([UInt8](data), maxBytes: maxRaw, path: path)

        var r = 0
        func need(_ n: Int, _ field: String) throws {
            guard r + n <= raw.count else { throw StateFileError.corrupted(path: path, field: field, reason: "truncated") }
        }
        func u16() -> UInt16 { defer { r += 2 }; return raw.withUnsafeBytes { UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: r, as: UInt16.self)) } }
        func u32() -> UInt32 { defer { r += 4 }; return raw.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: r, as: UInt32.self)) } }
        func u64() -> UInt64 { defer { r += 8 }; return raw.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: r, as: UInt64.self)) } }

        guard raw.count >= 16, Array(raw[0..<8]) == magic else {
            throw StateFileError.notAStateFile(path: path, reason: "wrong magic")
        }
        r = 8
        let maj = u16(), mnr = u16()
        guard maj == major else { throw StateFileError.unsupportedVersion(path: path, major: maj, minor: mnr) }
        guard raw.count >= 8 else { throw StateFileError.corrupted(path: path, field: "checksum", reason: "truncated") }
        let stored = raw.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: raw.count - 8, as: UInt64.self)) }
        let computed = raw.withUnsafeBytes { xxh64($0.baseAddress!, count: raw.count - 8) }
        guard stored == computed else {
            throw StateFileError.corrupted(path: path, field: "checksum", reason: "stored \(hex(stored)), computed \(hex(computed))")
        }
        try need(4 + 8 + 8 + 8 + 4 + 4, "header")
        _ = u32()
        let fp = u64()
        guard fp == session.model.file.fingerprint else {
            throw StateFileError.wrongModel(path: path, expected: session.model.file.fingerprint, found: fp)
        }
        let position = u64()
        let rng = u64()
        let recentCount = Int(u32())
        let bufferCount = Int(u32())
        guard bufferCount == buffers.count else {
            throw StateFileError.corrupted(path: path, field: "buffer_count", reason: "\(bufferCount), the model has \(buffers.count)")
        }
        guard recentCount <= 4096, position <= UInt64(Int.max / 2) else {
            throw StateFileError.corrupted(path: path, field: "header", reason: "absurd values")
        }
        try need(recentCount * 4, "recent_tokens")
        var recent: [Int32] = []
        for _ in 0..<recentCount { recent.append(Int32(bitPattern: u32())) }
        try need(bufferCount * 8, "buffer_lengths")
        for (i, buf) in buffers.enumerated() {
            let n = u64()
            guard n == UInt64(buf.count) else {
                throw StateFileError.corrupted(path: path, field: "buffer[\(i)].length", reason: "\(n), the model needs \(buf.count)")
            }
        }
        let payloadStart = r
        try need(buffers.reduce(0) { $0 + $1.count * 4 } + 8, "buffers")
        // All checks passed: copy.
        raw.withUnsafeBytes { src in
            var off = payloadStart
            for buf in buffers {
                buf.setFloats(from: src.baseAddress! + off)
                off += buf.count * 4
            }
        }
        session.context.setPosition(Int(position))
        if let sampler {
            sampler.rngState = rng
            sampler.recentTokens = recent
        }
    }

    /// Decompresses one LZ4 frame, refusing output beyond `maxBytes`.
    static func decompress(_ input: [UInt8], maxBytes: Int, path: String) throws -> [UInt8] {
        var dctx: OpaquePointer?
        let rc = LZ4F_createDecompressionContext(&dctx, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(rc) == 0, let dctx else {
            throw StateFileError.corrupted(path: path, field: "lz4", reason: "cannot create a decompression context")
        }
        defer { LZ4F_freeDecompressionContext(dctx) }
        guard input.count >= 4, input[0] == 0x04, input[1] == 0x22, input[2] == 0x4D, input[3] == 0x18 else {
            throw StateFileError.notAStateFile(path: path, reason: "not an LZ4 frame")
        }
        var out = [UInt8](repeating: 0, count: maxBytes + 1)
        var inPos = 0, outPos = 0
        var hint = 1
        try input.withUnsafeBytes { src in
            try out.withUnsafeMutableBytes { dst in
                while inPos < input.count && hint != 0 {
                    var srcSize = input.count - inPos
                    var dstSize = dst.count - outPos
                    hint = LZ4F_decompress(dctx, dst.baseAddress! + outPos, &dstSize, src.baseAddress! + inPos, &srcSize, nil)
                    if LZ4F_isError(hint) != 0 {
                        throw StateFileError.corrupted(path: path, field: "lz4", reason: String(cString: LZ4F_getErrorName(hint)))
                    }
                    inPos += srcSize
                    outPos += dstSize
                    if outPos > maxBytes {
                        throw StateFileError.corrupted(path: path, field: "lz4", reason: "decompresses to more than the \(maxBytes) bytes a state of this model can have")
                    }
                    if srcSize == 0 && dstSize == 0 { break }
                }
            }
        }
        guard hint == 0 else { throw StateFileError.corrupted(path: path, field: "lz4", reason: "truncated frame") }
        return Array(out[0..<outPos])
    }
}
