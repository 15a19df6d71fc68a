/// GPT-2's reversible map between bytes and printable Unicode scalars (`bytes_to_unicode`).
///
/// Byte-level BPE vocabularies spell every byte as one visible character so that merges never
/// see whitespace or control bytes: the 188 printable bytes `!`…`~`, `¡`…`¬`, `®`…`ÿ` stand for
/// themselves; the other 68 (0x00–0x20, 0x7F–0xA0, 0xAD) map, in byte order, to U+0100…U+0143.
/// So a space is `Ġ` (U+0120) and a newline `Ċ` (U+010A).
enum ByteUnicodeMap {
    /// `scalar[b]`: the character that spells byte `b`.
    static let scalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if isPrintable(UInt8(b)) {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// `byte[v]`: the byte spelled by the scalar with value `v`, or -1; values ≥ 324 spell no byte.
    static let byte: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (b, s) in scalar.enumerated() { table[Int(s.value)] = Int16(b) }
        return table
    }()

    /// The bytes a vocabulary token spells, or `nil` when one of its characters is not in the map.
    static func bytes(ofToken token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard s.value < 324, byte[Int(s.value)] >= 0 else { return nil }
            out.append(UInt8(byte[Int(s.value)]))
        }
        return out
    }

    /// The vocabulary spelling of raw bytes (each byte becomes one character).
    static func token(ofBytes bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalar[Int(b)]) }
        return String(s)
    }

    private static func isPrintable(_ b: UInt8) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }
}
