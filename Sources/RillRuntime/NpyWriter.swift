import Foundation
import RillFormat

/// Streams a float32 2-D array to a NumPy `.npy` file (format version 1.0), row by row, so
/// that memory stays fixed however many rows are written. The file is written to a temporary
/// name and renamed into place by ``finish()``.
public final class NpyWriter {
    public let path: String
    public let rows: Int
    public let cols: Int
    private let tmp: String
    private let handle: UnsafeMutablePointer<FILE>
    private var written = 0
    private var finished = false

    public init(path: String, rows: Int, cols: Int) throws(RillFileError) {
        self.path = path
        self.rows = rows
        self.cols = cols
        tmp = path + ".partial-\(getpid())"
        guard let h = fopen(tmp, "wb") else {
            let err = errno
            throw .io(path: path, operation: "create it (as \((tmp as NSString).lastPathComponent) beside it)", errno: err)
        }
        handle = h
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(cols)), }"
        // magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let n = UInt16(header.utf8.count)
        bytes += [UInt8(n & 0xFF), UInt8(n >> 8)] + Array(header.utf8)
        guard fwrite(bytes, 1, bytes.count, handle) == bytes.count else {
            fclose(handle)
            unlink(tmp)
            throw .io(path: tmp, operation: "write", errno: errno)
        }
    }

    /// Appends one row of `cols` floats (little-endian hosts write them as they are).
    public func append(row: UnsafePointer<Float>) throws(RillFileError) {
        precondition(written < rows, "more rows than declared")
        guard fwrite(row, 4, cols, handle) == cols else { throw .io(path: tmp, operation: "write", errno: errno) }
        written += 1
    }

    /// Closes the file and moves it into place; all declared rows must have been written.
    public func finish() throws(RillFileError) {
        precondition(written == rows, "wrote \(written) of \(rows) rows")
        finished = true
        guard fclose(handle) == 0 else { unlink(tmp); throw .io(path: tmp, operation: "close", errno: errno) }
        guard rename(tmp, path) == 0 else { unlink(tmp); throw .io(path: path, operation: "rename into place", errno: errno) }
    }

    deinit {
        if !finished {
            fclose(handle)
            unlink(tmp)
        }
    }
}
