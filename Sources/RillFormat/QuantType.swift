/// How one tensor's elements are stored in a `.rill` file.
///
/// The raw values are the type codes written in the tensor table (`Formats/rill.md` §5).
/// `int8` and `int4` are block-quantised along the last (input) dimension: each run of
/// ``QuantType/blockSize`` consecutive elements of a row shares one `Float32` scale.
public enum QuantType: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// IEEE-754 binary32, row-major.
    case f32 = 0
    /// IEEE-754 binary16, row-major.
    case f16 = 1
    /// Symmetric int8 blocks of 32: `x ≈ q · d`, `q ∈ [-127, 127]`.
    case int8 = 2
    /// Symmetric int4 blocks of 32: `x ≈ (n − 8) · d`, `n ∈ [0, 15]`; two elements per byte.
    case int4 = 3

    /// Elements sharing one scale in the quantised types (the SIMD load width for int8).
    public static let blockSize = 32

    public var isBlockQuantised: Bool { self == .int8 || self == .int4 }

    /// Bytes of quants for one block of ``QuantType/blockSize`` elements (block types only).
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4 * QuantType.blockSize
        case .f16: return 2 * QuantType.blockSize
        case .int8: return QuantType.blockSize
        case .int4: return QuantType.blockSize / 2
        }
    }

    public var description: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .int8: return "int8"
        case .int4: return "int4"
        }
    }

    public init?(name: String) {
        switch name.lowercased() {
        case "f32", "float32": self = .f32
        case "f16", "float16": self = .f16
        case "int8", "q8": self = .int8
        case "int4", "q4": self = .int4
        default: return nil
        }
    }
}

/// Where the parts of one stored tensor lie, relative to the tensor's first byte.
///
/// A tensor of shape `[d0, …, dk]` is a matrix of `rows = d0·…·d(k−1)` rows of `cols = dk`
/// elements (a 1-D tensor is one row). For the block types each row is padded with zeros to
/// `blocksPerRow · 32` elements; the quants of all rows come first (`rows × blocksPerRow ×
/// bytesPerBlock`, row-major), then, at the next multiple of 64 bytes, the scales
/// (`rows × blocksPerRow` little-endian `Float32`, row-major). Keeping scales apart lets a
/// kernel load 32 quants with one aligned vector load.
public struct TensorLayout: Sendable, Equatable {
    public let type: QuantType
    public let rows: Int
    public let cols: Int
    /// `ceil(cols / 32)` for the block types, 0 for f32/f16.
    public let blocksPerRow: Int
    /// Offset of the scales from the tensor's start (block types), else the byte count.
    public let scalesOffset: Int
    /// Total bytes of the tensor.
    public let byteCount: Int

    /// Computes the layout; returns nil when a size overflows `Int`.
    public init?(type: QuantType, shape: [Int]) {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else { return nil }
        var rows = 1
        for d in shape.dropLast() {
            let (r, o) = rows.multipliedReportingOverflow(by: d)
            if o { return nil }
            rows = r
        }
        let cols = shape[shape.count - 1]
        self.type = type
        self.rows = rows
        self.cols = cols
        switch type {
        case .f32, .f16:
            let elemBytes = type == .f32 ? 4 : 2
            let (n, o1) = rows.multipliedReportingOverflow(by: cols)
            let (b, o2) = n.multipliedReportingOverflow(by: elemBytes)
            if o1 || o2 { return nil }
            blocksPerRow = 0
            scalesOffset = b
            byteCount = b
        case .int8, .int4:
            let nb = (cols + QuantType.blockSize - 1) / QuantType.blockSize
            let (blocks, o1) = rows.multipliedReportingOverflow(by: nb)
            let (qBytes, o2) = blocks.multipliedReportingOverflow(by: type.bytesPerBlock)
            let (sBytes, o3) = blocks.multipliedReportingOverflow(by: 4)
            if o1 || o2 || o3 || qBytes > Int.max - 64 - sBytes { return nil }
            blocksPerRow = nb
            scalesOffset = alignUp(qBytes, to: 64)
            byteCount = scalesOffset + sBytes
        }
    }

    public var elementCount: Int { rows * cols }
}

/// Rounds `value` up to a multiple of `alignment` (a power of two).
@inlinable
public func alignUp(_ value: Int, to alignment: Int) -> Int {
    (value + alignment - 1) & ~(alignment - 1)
}
