/// Minimal UTF-8 decoding over bytes known to be valid (they come from a `String`).
enum UTF8Scalar {
    /// The scalar starting at `bytes[at]` and its length in bytes.
    static func decode(_ bytes: [UInt8], at: Int) -> (Unicode.Scalar, Int) {
        let b0 = UInt32(bytes[at])
        if b0 < 0x80 { return (Unicode.Scalar(UInt8(b0)), 1) }
        let length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2
        var v = b0 & (0x7F >> UInt32(length))
        for k in 1..<length { v = v << 6 | UInt32(bytes[at + k] & 0x3F) }
        return (Unicode.Scalar(v) ?? "\u{FFFD}", length)
    }

    /// The scalar that ends just before `bytes[end]`.
    static func decode(_ bytes: [UInt8], endingAt end: Int) -> Unicode.Scalar {
        var start = end - 1
        while start > 0 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        return decode(bytes, at: start).0
    }

    /// The byte length of the scalar that ends just before `bytes[end]`.
    static func lengthBefore(_ bytes: [UInt8], _ end: Int) -> Int {
        var start = end - 1
        while start > 0 && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        return end - start
    }
}
