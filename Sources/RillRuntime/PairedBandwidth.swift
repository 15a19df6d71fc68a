import Foundation

/// Decode's share of the read bandwidth, measured with the probe's passes interleaved with
/// decode: on a shared host the bandwidth moves between seconds (a 2-core cloud guest's probe
/// read 31–58 GB/s in back-to-back runs while decode's speed did not follow), so a probe taken
/// before or after decode compares decode with another moment's machine.
///
/// The decode tokens are split into segments with one probe pass before the first and after
/// each; a segment is credited with the mean of the two passes around it. The ratio is decode's
/// bytes over what the bracketing passes say could have been read in the same time:
/// Σ bytes / Σ (bandwidth × segment time). The best single pass (STREAM's statistic) is kept
/// beside it.
public struct PairedBandwidth: Sendable {
    /// Best of five passes before the paired phase, GB/s.
    public let bestGBs: Double
    /// Time-weighted mean of the bracketing passes over the decode segments, GB/s.
    public let duringDecodeGBs: Double
    /// Decode's bytes ÷ the bracketing passes' bytes in the same time.
    public let ratio: Double
    /// Tokens/s of the paired phase's decode.
    public let decodeTokS: Double

    /// Decodes `tokens` more tokens greedily (continuing from `token`, which ends as the last
    /// one chosen) in up to `segments` segments, with the probe's passes around them.
    ///
    /// - Parameters:
    ///   - weightBytesPerToken: the weights one decoded token reads (the network's count).
    ///   - probeBytes: the probe's buffer (``BandwidthProbe/init(pool:bytes:)``).
    public static func measure(
        session: Session, token: inout Int32, tokens: Int, weightBytesPerToken: Int, segments: Int = 8,
        probeBytes: Int = 256 << 20
    ) throws -> PairedBandwidth {
        let vocabSize = session.model.vocabSize
        let probe = BandwidthProbe(pool: session.pool, bytes: probeBytes)
        let best = probe.best()
        let count = max(1, min(segments, tokens))
        var before = probe.pass()
        var bytes = 0.0, available = 0.0, seconds = 0.0, decoded = 0
        for segment in 0..<count {
            let length = tokens * (segment + 1) / count - tokens * segment / count
            var segmentBytes = 0.0
            let s0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<length {
                segmentBytes += Double(weightBytesPerToken + session.stateBytesReadPerStep)
                try session.step(token)
                token = argmax(session.logits, vocabSize)
            }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - s0) / 1e9
            let after = probe.pass()
            bytes += segmentBytes
            available += (before + after) / 2 * 1e9 * dt
            seconds += dt
            decoded += length
            before = after
        }
        return PairedBandwidth(
            bestGBs: best, duringDecodeGBs: available / seconds / 1e9, ratio: bytes / available,
            decodeTokS: Double(decoded) / seconds)
    }
}
