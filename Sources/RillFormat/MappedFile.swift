#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory.
///
/// Pages are loaded by the kernel on first touch and can be dropped under memory pressure,
/// so mapping a model costs address space, not resident memory.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let base: UnsafeRawPointer
    public let size: Int

    /// Maps `path`. An empty file maps to a valid zero-length view.
    public init(path: String) throws(RillFileError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw .invalidField(path: path, field: "file", expected: "a regular file", found: "not a regular file")
        }
        size = Int(st.st_size)
        if size == 0 {
            base = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64))
            isHeap = true
            return
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw .io(path: path, operation: "mmap", errno: errno)
        }
        base = UnsafeRawPointer(p)
        isHeap = false
    }

    private let isHeap: Bool

    /// Asks the kernel to read the range ahead (a hint; errors are ignored).
    public func willNeed(offset: Int, length: Int) {
        guard !isHeap, length > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = offset & ~(page - 1)
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), length + (offset - start), MADV_WILLNEED)
    }

    deinit {
        if isHeap {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        } else {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
        }
    }

    /// Bytes `[offset, offset+count)` copied out; the caller has checked the range.
    public func bytes(at offset: Int, count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: base + offset, count: count))
    }
}
