import CRillKernels

/// Multiply-add chains on registers for the compute roofline (`compute_peak.c`): each call runs
/// `iterations` rounds and returns a value that depends on every chain.
public enum PeakRate {
    /// acc = fma(acc, a, b) on independent vector chains (acc starts at the chain's index).
    public static func f32(iterations: Int64, a: Float, b: Float) -> Float { rill_peak_f32(iterations, a, b) }
    /// Floating-point operations per round (a multiply-add counts 2).
    public static var f32OpsPerIteration: Int64 { rill_peak_f32_flops_per_iteration() }
    /// acc += a·b over bytes with the quantised kernels' dot product (a taken unsigned on x86's
    /// u8×s8 instructions: keep it small and positive).
    public static func int8(iterations: Int64, a: Int8, b: Int8) -> Int32 { rill_peak_i8(iterations, a, b) }
    /// Integer operations per round (a byte multiply-add counts 2).
    public static var int8OpsPerIteration: Int64 { rill_peak_i8_ops_per_iteration() }
}
