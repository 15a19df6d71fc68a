/// Why a `.rill` file, a checkpoint or a config could not be used.
///
/// Every case names the file and the field, so a one-line message tells the user what is wrong
/// where; none of these is ever a crash.
public enum RillFileError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened, read, mapped or written.
    case io(path: String, operation: String, errno: Int32)
    /// The file is shorter than a field requires.
    case truncated(path: String, field: String, needed: UInt64, fileSize: UInt64)
    /// The magic bytes are not a `.rill` file's.
    case badMagic(path: String)
    /// A major version this reader does not know.
    case unsupportedVersion(path: String, major: UInt16, minor: UInt16, supported: UInt16)
    /// A field holds a value that breaks the format's rules.
    case invalidField(path: String, field: String, expected: String, found: String)
    /// A checksum does not match the bytes it covers.
    case checksumMismatch(path: String, field: String, expected: UInt64, found: UInt64)
    /// A tensor the architecture needs is not in the file.
    case missingTensor(path: String, name: String)
    /// JSON that does not decode.
    case badJSON(path: String, field: String, reason: String)
    /// A checkpoint of an architecture the engine does not run.
    case unsupportedArchitecture(path: String, found: String, supported: [String])

    public var description: String {
        switch self {
        case let .io(path, op, err):
            return "\(path): cannot \(op): \(String(cString: strerror(err)))"
        case let .truncated(path, field, needed, size):
            return "\(path): truncated: \(field) needs \(needed) bytes but the file has \(size)"
        case let .badMagic(path):
            return "\(path): not a .rill file (wrong magic bytes)"
        case let .unsupportedVersion(path, major, minor, supported):
            if major < supported {
                return "\(path): format version \(major).\(minor) was written by an older rill (this reader knows major \(supported)); convert the checkpoint again with `rill convert`"
            }
            return "\(path): format version \(major).\(minor) is not supported (this reader knows major \(supported); upgrade rill)"
        case let .invalidField(path, field, expected, found):
            return "\(path): \(field): expected \(expected), found \(found)"
        case let .checksumMismatch(path, field, expected, found):
            return "\(path): \(field): checksum mismatch (stored \(hex(expected)), computed \(hex(found))): the file is corrupted"
        case let .missingTensor(path, name):
            return "\(path): tensor '\(name)' is missing"
        case let .badJSON(path, field, reason):
            return "\(path): \(field): invalid JSON: \(reason)"
        case let .unsupportedArchitecture(path, found, supported):
            return "\(path): architecture '\(found)' is not supported (supported: \(supported.joined(separator: ", ")))"
        }
    }
}

public func hex(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 16 - s.count)) + s
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
