import Foundation

/// The process's resident memory, from `/proc/self/statm` (Linux) — resident pages split
/// into file-backed (mapped weights, which the kernel can drop) and anonymous (state,
/// scratch, heap).
public struct ResidentMemory: Sendable {
    public var residentBytes: Int
    public var fileBytes: Int
    public var anonymousBytes: Int { residentBytes - fileBytes }

    /// Nil where `/proc/self/statm` cannot be read.
    public static func current() -> ResidentMemory? {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 128)
        let n = read(fd, &buf, buf.count)
        guard n > 0 else { return nil }
        let fields = buf[0..<n].split(separator: UInt8(ascii: " ")).compactMap { Int(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard fields.count >= 3 else { return nil }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        return ResidentMemory(residentBytes: fields[1] * page, fileBytes: fields[2] * page)
    }

    /// Peak resident memory (VmHWM) in bytes, from `/proc/self/status`.
    public static func peakBytes() -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in s.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.filter(\.isNumber)
            return Int(digits).map { $0 * 1024 }
        }
        return nil
    }
}
