// MARK: - The parts of SentencePiece's ModelProto that Rill reads
//
// `tokenizer.model` is a protobuf `sentencepiece.ModelProto` (sentencepiece_model.proto). Rill
// reads it with the small wire-format reader below instead of a protobuf package: it needs a
// dozen scalar fields of three messages, generated code would be thousands of lines and a new
// dependency, and a hand-written reader can bound every length and count in untrusted input.
// Unknown fields are skipped, as protobuf requires.

/// A SentencePiece model: its pieces and the options that change encoding or decoding.
struct SentencePieceModelProto: Sendable {
    /// `ModelProto.SentencePiece.Type`.
    enum PieceType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// `ModelProto.SentencePiece` (field 1 of ModelProto, repeated).
    struct Piece: Sendable {
        var piece: [UInt8] = []  // field 1, string
        var score: Float = 0  // field 2, float
        var type: PieceType = .normal  // field 3, enum, default NORMAL
    }

    /// `TrainerSpec.ModelType`.
    enum ModelType: Int, Sendable {
        case unigram = 1, bpe = 2, word = 3, char = 4
    }

    var pieces: [Piece] = []
    // TrainerSpec (field 2).
    var modelType: ModelType = .unigram  // field 3
    var treatWhitespaceAsSuffix = false  // field 24
    var byteFallback = false  // field 35
    var unkID: Int = 0  // field 40
    var bosID: Int = 1  // field 41
    var eosID: Int = 2  // field 42
    var padID: Int = -1  // field 43
    var unkSurface: [UInt8] = Array(" \u{2047} ".utf8)  // field 44
    // NormalizerSpec (field 3).
    var normalizerName = ""  // field 1
    var precompiledCharsmap: [UInt8] = []  // field 2
    var addDummyPrefix = true  // field 3
    var removeExtraWhitespaces = true  // field 4
    var escapeWhitespaces = true  // field 5

    /// Largest file accepted (1 GiB; real ones are under 5 MB).
    static let maxFileBytes = 1 << 30
    /// Most pieces (10M; the largest public vocabularies are ~256k).
    static let maxPieces = 10_000_000
    /// Longest piece, in bytes.
    static let maxPieceBytes = 1 << 16

    /// Parses `bytes`; throws `TokenizerError.badModelProto` naming the field on bad wire data.
    init(_ bytes: [UInt8]) throws(TokenizerError) {
        guard bytes.count <= Self.maxFileBytes else {
            throw .badModelProto(field: "(file size)", reason: "\(bytes.count) bytes is above the limit of \(Self.maxFileBytes)")
        }
        var reader = ProtoReader(bytes: bytes, range: 0..<bytes.count, path: "ModelProto")
        while let (field, wire) = try reader.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited):
                guard pieces.count < Self.maxPieces else {
                    throw .badModelProto(field: "pieces", reason: "more than \(Self.maxPieces) pieces")
                }
                var sub = try reader.message(path: "pieces[\(pieces.count)]")
                pieces.append(try Self.piece(&sub))
            case (2, .lengthDelimited):
                var sub = try reader.message(path: "trainer_spec")
                try readTrainerSpec(&sub)
            case (3, .lengthDelimited):
                var sub = try reader.message(path: "normalizer_spec")
                try readNormalizerSpec(&sub)
            default:
                try reader.skip(wire)
            }
        }
    }

    private static func piece(_ r: inout ProtoReader) throws(TokenizerError) -> Piece {
        var p = Piece()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited):
                let range = try r.lengthDelimited()
                guard range.count <= maxPieceBytes else {
                    throw .badModelProto(field: r.path + ".piece", reason: "\(range.count) bytes is above the limit of \(maxPieceBytes)")
                }
                p.piece = Array(r.bytes[range])
            case (2, .fixed32):
                p.score = Float(bitPattern: try r.fixed32())
            case (3, .varint):
                let raw = try r.varint()
                guard let type = PieceType(rawValue: Int(truncatingIfNeeded: raw)), raw <= 6 else {
                    throw .badModelProto(field: r.path + ".type", reason: "unknown piece type \(raw)")
                }
                p.type = type
            default:
                try r.skip(wire)
            }
        }
        return p
    }

    private mutating func readTrainerSpec(_ r: inout ProtoReader) throws(TokenizerError) {
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (3, .varint):
                let raw = try r.varint()
                guard raw <= 4, let type = ModelType(rawValue: Int(raw)) else {
                    throw .badModelProto(field: "trainer_spec.model_type", reason: "unknown model type \(raw)")
                }
                modelType = type
            case (24, .varint): treatWhitespaceAsSuffix = try r.varint() != 0
            case (35, .varint): byteFallback = try r.varint() != 0
            case (40, .varint): unkID = try r.int32()
            case (41, .varint): bosID = try r.int32()
            case (42, .varint): eosID = try r.int32()
            case (43, .varint): padID = try r.int32()
            case (44, .lengthDelimited):
                let range = try r.lengthDelimited()
                guard range.count <= Self.maxPieceBytes else {
                    throw .badModelProto(field: "trainer_spec.unk_surface", reason: "\(range.count) bytes is too long")
                }
                unkSurface = Array(r.bytes[range])
            default: try r.skip(wire)
            }
        }
    }

    private mutating func readNormalizerSpec(_ r: inout ProtoReader) throws(TokenizerError) {
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, .lengthDelimited):
                let range = try r.lengthDelimited()
                normalizerName = String(decoding: r.bytes[range].prefix(256), as: UTF8.self)
            case (2, .lengthDelimited): precompiledCharsmap = Array(r.bytes[try r.lengthDelimited()])
            case (3, .varint): addDummyPrefix = try r.varint() != 0
            case (4, .varint): removeExtraWhitespaces = try r.varint() != 0
            case (5, .varint): escapeWhitespaces = try r.varint() != 0
            default: try r.skip(wire)
            }
        }
    }
}

// MARK: - Protobuf wire format

/// Reads protobuf wire format from `bytes[range]`, checking every length against the range.
struct ProtoReader {
    enum WireType: UInt64 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    let bytes: [UInt8]
    private var at: Int
    private let end: Int
    /// Dotted path of the message being read, for errors.
    let path: String
    /// Nesting depth guard: ModelProto is three levels deep; refuse absurd recursion.
    private let depth: Int

    init(bytes: [UInt8], range: Range<Int>, path: String, depth: Int = 0) {
        self.bytes = bytes
        self.at = range.lowerBound
        self.end = range.upperBound
        self.path = path
        self.depth = depth
    }

    private func fail(_ reason: String) -> TokenizerError {
        .badModelProto(field: path, reason: reason + " at byte \(at)")
    }

    /// The next field number and wire type, or nil at the end of the message.
    mutating func nextField() throws(TokenizerError) -> (Int, WireType)? {
        guard at < end else { return nil }
        let key = try varint()
        let field = key >> 3
        guard field >= 1 && field <= (1 << 29) - 1 else { throw fail("field number \(field) out of range") }
        guard let wire = WireType(rawValue: key & 7) else { throw fail("unsupported wire type \(key & 7)") }
        return (Int(field), wire)
    }

    /// A base-128 varint of at most 10 bytes; the 10th may only hold the top bit of 64.
    mutating func varint() throws(TokenizerError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard at < end else { throw fail("varint runs past the end") }
            let b = bytes[at]
            at += 1
            if shift == 63 && b > 1 { throw fail("varint overflows 64 bits") }
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
            guard shift <= 63 else { throw fail("varint longer than 10 bytes") }
        }
    }

    /// An `int32` field: a varint whose low 32 bits are the two's-complement value.
    mutating func int32() throws(TokenizerError) -> Int {
        Int(Int32(truncatingIfNeeded: try varint()))
    }

    mutating func fixed32() throws(TokenizerError) -> UInt32 {
        guard end - at >= 4 else { throw fail("fixed32 runs past the end") }
        let v = UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        at += 4
        return v
    }

    /// The byte range of a length-delimited field, checked to lie inside this message.
    mutating func lengthDelimited() throws(TokenizerError) -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - at) else { throw fail("length \(length) runs past the end") }
        let range = at..<(at + Int(length))
        at = range.upperBound
        return range
    }

    /// A reader over an embedded message.
    mutating func message(path: String) throws(TokenizerError) -> ProtoReader {
        guard depth < 8 else { throw fail("messages nested too deeply") }
        let range = try lengthDelimited()
        return ProtoReader(bytes: bytes, range: range, path: path, depth: depth + 1)
    }

    /// Skips a field of an unread number.
    mutating func skip(_ wire: WireType) throws(TokenizerError) {
        switch wire {
        case .varint: _ = try varint()
        case .fixed32: _ = try fixed32()
        case .fixed64:
            guard end - at >= 8 else { throw fail("fixed64 runs past the end") }
            at += 8
        case .lengthDelimited: _ = try lengthDelimited()
        }
    }
}
