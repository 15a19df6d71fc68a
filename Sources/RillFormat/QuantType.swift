/// How one tensor's elements are stored in a `.rill` file.
///
/// The raw values are the type codes written in the tensor table (`Formats/rill.md` §5).
/// `int8`, `int4` and `int4k` are block-quantised along the last (input) dimension: each run of
/// ``QuantType/blockSize`` consecutive elements of a row shares one `Float32` scale (int4k: a
/// `UInt8` scale code and minimum code against the row's two `Float32` scales).
public enum QuantType: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    /// IEEE-754 binary32, row-major.
    case f32 = 0
    /// IEEE-754 binary16, row-major.
    case f16 = 1
    /// Symmetric int8 blocks of 32: `x ≈ q · d`, `q ∈ [-127, 127]`.
    case int8 = 2
    /// Symmetric int4 blocks of 32: `x ≈ (n − 8) · d`, `n ∈ [0, 15]`; two elements per byte.
    case int4 = 3
    /// Asymmetric int4 blocks of 32 with two-level scales (format 2.2): `x ≈ (D·s)·n − (M·m)`,
    /// `n ∈ [0, 15]`, a `UInt8` scale code s and minimum code m per block, f32 D and M per row.
    /// 4.5 bits a weight (plus 64 bits a row), against int4's 5.
    case int4k = 4

    /// Elements sharing one scale in the quantised types (the SIMD load width for int8).
    public static let blockSize = 32

    public var isBlockQuantised: Bool { self == .int8 || self == .int4 || self == .int4k }

    /// The lowest minor version of format 2 that defines the type (§11): int4k came with 2.4.
    public var minimumMinorVersion: UInt16 { self == .int4k ? 4 : 0 }

    /// Bytes of quants for one block of ``QuantType/blockSize`` elements (block types only).
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4 * QuantType.blockSize
        case .f16: return 2 * QuantType.blockSize
        case .int8: return QuantType.blockSize
        case .int4, .int4k: return QuantType.blockSize / 2
        }
    }

    public var description: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .int8: return "int8"
        case .int4: return "int4"
        case .int4k: return "int4k"
        }
    }

    public init?(name: String) {
        switch name.lowercased() {
        case "f32", "float32": self = .f32
        case "f16", "float16": self = .f16
        case "int8", "q8": self = .int8
        case "int4", "q4": self = .int4
        case "int4k", "q4k": self = .int4k
        default: return nil
        }
    }
}

/// Where the parts of one stored tensor lie, relative to the tensor's first byte.
///
/// A tensor of shape `[d0, …, dk]` is a matrix of `rows = d0·…·d(k−1)` rows of `cols = dk`
/// elements (a 1-D tensor is one row). f32/f16 are row-major. The block types store rows in
/// **groups of four** (`Formats/rill.md` §6): group g holds rows 4g…4g+3 (the last group padded
/// with zero rows), and within a group, **units** of blocks (1 for int8; 2 for int4, so that a
/// row's 32 bytes of a pair are one vector load, the last unit of an odd row holding one): the
/// unit's scales, row by row, then its quants, row by row. A mat-vec over four rows then reads one sequential
/// stream, scales beside the quants they scale — which the hardware prefetcher follows at full
/// memory speed, where four separate row streams and a fifth of scales ran 25–40 % slower.
public struct TensorLayout: Sendable, Equatable {
    public let type: QuantType
    public let rows: Int
    public let cols: Int
    /// `ceil(cols / 32)` for the block types, 0 for f32/f16.
    public let blocksPerRow: Int
    /// Bytes of one group of four rows (block types), else 0.
    public let groupBytes: Int
    /// Total bytes of the tensor.
    public let byteCount: Int

    /// Rows per group of the block types.
    public static let groupRows = 4

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
            groupBytes = 0
            byteCount = b
        case .int8, .int4, .int4k:
            let nb = (cols + QuantType.blockSize - 1) / QuantType.blockSize
            let groups = rows / TensorLayout.groupRows + (rows % TensorLayout.groupRows == 0 ? 0 : 1)
            // int4k: each row's D and M (8 bytes) head the group; a block's codes take 2 bytes.
            let head = type == .int4k ? 8 * TensorLayout.groupRows : 0
            let perBlock = (type == .int4k ? 2 : 4) + type.bytesPerBlock
            let (g0, o1) = nb.multipliedReportingOverflow(by: TensorLayout.groupRows * perBlock)
            let g = g0 &+ head
            let (total, o2) = g.multipliedReportingOverflow(by: groups)
            if o1 || o2 || g < g0 { return nil }
            blocksPerRow = nb
            groupBytes = g
            byteCount = total
        }
    }

    public var elementCount: Int { rows * cols }

    /// Byte offsets from the tensor's start of block `b` of row `r` (block types): its quants
    /// and its f32 scale (int4k: its two code bytes, scale then minimum).
    @inlinable
    public func blockOffsets(row r: Int, block b: Int) -> (quants: Int, scale: Int) {
        let k = r & (TensorLayout.groupRows - 1), group = (r >> 2) * groupBytes
        if type == .int4k {  // after the rows' D and M: units as int4's, 2 code bytes a block
            let i = b & 1, width = (b | 1) < blocksPerRow ? 2 : 1
            let unit = group + 8 * TensorLayout.groupRows + (b & ~1) * (TensorLayout.groupRows * 18)
            return (unit + 8 * width + (k * width + i) * 16, unit + 2 * (k * width + i))
        }
        if type == .int8 {  // units of one block: 4 scales, then 4 × 32 quants
            let unit = group + b * (TensorLayout.groupRows * (4 + 32))
            return (unit + 16 + 32 * k, unit + 4 * k)
        }
        // int4: units of two blocks (the last of an odd row one); a unit's blocks start at a
        // multiple of 2, so the unit begins after b & ~1 blocks' worth of bytes.
        let i = b & 1, width = (b | 1) < blocksPerRow ? 2 : 1
        let unit = group + (b & ~1) * (TensorLayout.groupRows * (4 + 16))
        return (unit + 16 * width + (k * width + i) * 16, unit + 4 * (k * width + i))
    }
}

extension TensorLayout {
    /// Byte offset of row `r`'s f32 D (M follows it) in an int4k tensor.
    @inlinable
    public func rowScalesOffset(row r: Int) -> Int { (r >> 2) * groupBytes + 8 * (r & (TensorLayout.groupRows - 1)) }
}

/// Rounds `value` up to a multiple of `alignment` (a power of two).
@inlinable
public func alignUp(_ value: Int, to alignment: Int) -> Int {
    (value + alignment - 1) & ~(alignment - 1)
}
