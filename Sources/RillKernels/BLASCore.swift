import COpenBLAS

#if canImport(Glibc)
import Glibc
#endif

// OpenBLAS picks its kernels from the CPU model at load time. On CPUs newer than the installed
// OpenBLAS (Debian 12 ships 0.3.21), and on VMs that hide the model ("Intel Xeon Processor"),
// it falls back to Prescott's SSE3 kernels: measured on a 2-core Sapphire Rapids VM, Mamba-130m
// int8 prefill ran at 151 tok/s with them, 259 with OPENBLAS_CORETYPE=Haswell and 298 with
// SkylakeX. The choice is fixed when the library loads, so the only cure is the environment
// variable before start-up: `rill` re-executes itself with it (see `suggestedBLASCoreType`).

/// The kernel family OpenBLAS chose for this CPU (`openblas_get_corename`), e.g. `Haswell`.
public func blasCoreName() -> String {
    guard let p = openblas_get_corename() else { return "unknown" }
    return String(cString: p)
}

/// The `OPENBLAS_CORETYPE` to set when OpenBLAS chose pre-AVX2 kernels on a CPU that has AVX2
/// and FMA (or AVX-512), or `nil` when its choice is fine, the user set the variable, or the
/// machine is not x86-64 Linux.
public func suggestedBLASCoreType() -> String? {
    #if arch(x86_64) && os(Linux)
    if getenv("OPENBLAS_CORETYPE") != nil { return nil }
    let legacy: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "sandybridge",
                               "katmai", "coppermine", "northwood", "banias", "unknown"]
    guard legacy.contains(blasCoreName().lowercased()) else { return nil }
    guard let flags = cpuFlags() else { return nil }
    if flags.contains("avx512f") && flags.contains("avx512bw") && flags.contains("avx512vl") { return "SkylakeX" }
    if flags.contains("avx2") && flags.contains("fma") { return "Haswell" }
    return nil
    #else
    return nil
    #endif
}

/// The `flags` line of `/proc/cpuinfo` as a set, or nil when unreadable.
private func cpuFlags() -> Set<Substring>? {
    guard let f = fopen("/proc/cpuinfo", "r") else { return nil }
    defer { fclose(f) }
    var line: UnsafeMutablePointer<CChar>? = nil
    var cap = 0
    defer { free(line) }
    while getline(&line, &cap, f) > 0, let line {
        let s = String(cString: line)
        if s.hasPrefix("flags") {
            return Set(s.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == ":" }))
        }
    }
    return nil
}
