#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to standard error without buffering surprises (progress, warnings, statistics).
enum Terminal {
    static func err(_ s: String) {
        var s = s
        s.withUTF8 { _ = fwrite($0.baseAddress, 1, $0.count, stderr) }
    }

    static func errLine(_ s: String) { err(s + "\n") }

    static var stderrIsTTY: Bool { isatty(STDERR_FILENO) == 1 }

    /// Redraws one status line on a terminal; does nothing when stderr is not a terminal.
    static func status(_ s: String) {
        guard stderrIsTTY else { return }
        err("\r\u{1B}[2K" + s)
    }

    static func clearStatus() {
        guard stderrIsTTY else { return }
        err("\r\u{1B}[2K")
    }

    static func out(_ s: String) {
        var s = s
        s.withUTF8 { _ = fwrite($0.baseAddress, 1, $0.count, stdout) }
    }

    static func flushOut() { fflush(stdout) }
}

/// Human sizes: 1.5 MiB.
func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 {
        v /= 1024
        u += 1
    }
    return u == 0 ? "\(n) B" : String(format: "%.2f %@", v, units[u])
}

import Foundation
