import Foundation

/// Unicode Normalization Form C, as the `NFC` normalizer of `tokenizers` computes it.
///
/// Foundation's `precomposedStringWithCanonicalMapping` (the Swift standard library's normaliser
/// underneath) misorders marks when a scalar decomposes into marks that must move before an
/// earlier mark: U+1DF1 U+0618 U+0F75 gives U+0618 U+1DF1 U+0F71 U+0F74 instead of
/// U+0618 U+0F71 U+0F74 U+1DF1 (13 of 20,000 random mark-heavy strings differed from Python's
/// `unicodedata`). So: decompose, put each run of marks in canonical order ourselves (stable sort
/// by combining class), then compose. That matched all 20,000.
enum NFC {
    /// The NFC form of valid UTF-8 `bytes`, or `nil` when they are already NFC because every
    /// scalar is below U+0300 (no scalar there decomposes or combines: every byte < 0xCC).
    ///
    /// Only the stretches that need it are normalised: text can be cut before any ASCII
    /// character, which never composes with what precedes it. So each run of non-ASCII scalars
    /// holding one ≥ U+0300 is normalised together with the ASCII character before it (a
    /// possible base for its marks), and everything else is copied.
    static func normalize(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        guard var next = bytes.firstIndex(where: { $0 >= 0xCC }) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var copied = bytes.startIndex
        while true {
            var start = next
            while start > copied && bytes[start - 1] >= 0x80 { start -= 1 }
            if start > copied { start -= 1 }
            var end = next
            while end < bytes.endIndex && bytes[end] >= 0x80 { end += 1 }
            out += bytes[copied..<start]
            out += normalize(String(decoding: bytes[start..<end], as: UTF8.self)).utf8
            copied = end
            guard let found = bytes[end...].firstIndex(where: { $0 >= 0xCC }) else { break }
            next = found
        }
        out += bytes[copied...]
        return out
    }

    static func normalize(_ text: String) -> String {
        var scalars = Array(text.decomposedStringWithCanonicalMapping.unicodeScalars)
        var i = 0
        while i < scalars.count {
            guard combiningClass(scalars[i]) != 0 else {
                i += 1
                continue
            }
            var j = i + 1
            while j < scalars.count && combiningClass(scalars[j]) != 0 { j += 1 }
            if j - i > 1 {
                // Stable: marks of equal class keep their order.
                let run = scalars[i..<j].enumerated().sorted {
                    (combiningClass($0.element), $0.offset) < (combiningClass($1.element), $1.offset)
                }
                scalars.replaceSubrange(i..<j, with: run.map(\.element))
            }
            i = j
        }
        var ordered = String.UnicodeScalarView()
        ordered.append(contentsOf: scalars)
        return String(ordered).precomposedStringWithCanonicalMapping
    }

    private static func combiningClass(_ s: Unicode.Scalar) -> UInt8 {
        s.properties.canonicalCombiningClass.rawValue
    }
}
