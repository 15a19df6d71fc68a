import RillModels

/// A session's whole state at one position — every state buffer in its own storage, the
/// next-token logits and the position — held in memory, so that a server can return to the
/// end of an earlier turn without re-reading it (a recurrent state cannot be rolled back).
///
/// A snapshot restores only into a session of the same model and shape (same `--ctx` for
/// models whose caches depend on it, same K/V storage): ``Session/restore(_:)`` checks it.
public struct SessionSnapshot: Sendable {
    /// The tokens the session had consumed, in order.
    public let tokens: [Int32]
    /// The buffers' bytes, one after another, as stored.
    let bytes: [UInt8]
    /// Each buffer's byte count, to check the layout on restore.
    let layout: [Int]

    /// Bytes of memory the snapshot holds.
    public var byteCount: Int { bytes.count + tokens.count * 4 }
}

extension Session {
    /// Bytes a snapshot of this session takes (state, logits and the token list aside).
    public var snapshotBytes: Int { savedBuffers.reduce(0) { $0 + $1.storedBytes } }

    /// The state now, labelled with the tokens that produced it (the caller's record: a
    /// session does not keep its history).
    public func snapshot(tokens: [Int32]) -> SessionSnapshot {
        precondition(tokens.count == position, "a snapshot's tokens are the ones consumed")
        let buffers = savedBuffers
        let layout = buffers.map(\.storedBytes)
        var bytes = [UInt8](repeating: 0, count: layout.reduce(0, +))
        bytes.withUnsafeMutableBytes { raw in
            var off = 0
            for (b, n) in zip(buffers, layout) {
                b.copyStored(to: raw.baseAddress! + off)
                off += n
            }
        }
        return SessionSnapshot(tokens: tokens, bytes: bytes, layout: layout)
    }

    /// Puts the session back where `snapshot` was taken: same state, logits and position, bit
    /// for bit. False (and the session unchanged) when the snapshot is of another shape.
    @discardableResult
    public func restore(_ snapshot: SessionSnapshot) -> Bool {
        let buffers = savedBuffers
        guard buffers.map(\.storedBytes) == snapshot.layout else { return false }
        snapshot.bytes.withUnsafeBytes { raw in
            var off = 0
            for (b, n) in zip(buffers, snapshot.layout) {
                b.restoreStored(from: raw.baseAddress! + off)
                off += n
            }
        }
        context.setPosition(snapshot.tokens.count)
        return true
    }
}
