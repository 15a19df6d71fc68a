import RillFormat
/// Draws of the models' tests from the shared seeded generator (RillFormat's SplitMix64).
extension SplitMix64 {
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float.random(in: -scale...scale, using: &self) }
    }
}
