import RillFormat
import XCTest

/// The stored byte layout of each type, checked byte by byte against `Formats/rill.md` §6.
final class TensorLayoutTests: XCTestCase {
    func storedBytes(_ t: OwnedTensor) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: t.view.base, count: t.view.layout.byteCount))
    }

    func testF32IsRowMajorLittleEndianBinary32() {
        let t = OwnedTensor(name: "t", shape: [2, 2], type: .f32, values: [1, -2, 0.5, 3])
        XCTAssertEqual(storedBytes(t), floatBytes([1, -2, 0.5, 3]))
    }

    func testF16IsRowMajorLittleEndianBinary16() {
        let t = OwnedTensor(name: "t", shape: [3], type: .f16, values: [1, -2, 65504])
        XCTAssertEqual(storedBytes(t), [0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B])
    }

    /// Groups of four rows (the last padded), each nb · 4 · (4 + bytes per block) bytes.
    func testBlockLayoutSizes() {
        let cases: [(QuantType, [Int], Int, Int, Int)] = [
            // type, shape, blocksPerRow, groupBytes, byteCount
            (.int8, [1, 1], 1, 144, 144),  // one group: 4 scales + 4 × 32 quants
            (.int8, [2, 33], 2, 288, 288),
            (.int8, [3, 2, 32], 1, 144, 288),  // rows = 3·2: two groups
            (.int4, [1, 33], 2, 160, 160),  // one unit of two blocks: 8 scales + 4 × 32 bytes
            (.int4, [7, 257], 9, 720, 1440),  // 4 pair units + 1 single, two groups
            (.int4, [4, 32], 1, 80, 80),
            (.int4k, [1, 33], 2, 176, 176),  // 4 rows' D and M, then one pair unit: 16 codes + 4 × 32 bytes
            (.int4k, [7, 257], 9, 680, 1360),  // 32 + 4 × 144 + 72, two groups
            (.int4k, [4, 32], 1, 104, 104),
        ]
        for (type, shape, nb, gb, bc) in cases {
            let l = TensorLayout(type: type, shape: shape)!
            XCTAssertEqual(l.blocksPerRow, nb, "\(type) \(shape)")
            XCTAssertEqual(l.groupBytes, gb, "\(type) \(shape)")
            XCTAssertEqual(l.byteCount, bc, "\(type) \(shape)")
        }
        XCTAssertEqual(TensorLayout(type: .f16, shape: [3, 5])!.byteCount, 30)
        XCTAssertEqual(TensorLayout(type: .f32, shape: [2, 3, 4, 5])!.byteCount, 480)
    }

    func testLayoutRefusesEmptyZeroAndOverflowingShapes() {
        XCTAssertNil(TensorLayout(type: .f32, shape: []))
        XCTAssertNil(TensorLayout(type: .f32, shape: [3, 0]))
        XCTAssertNil(TensorLayout(type: .f32, shape: [1 << 40, 1 << 40]))
        XCTAssertNil(TensorLayout(type: .int4, shape: [1 << 40, 1 << 30]))
    }

    /// d = 1: q = round(x), ties to even; padding elements are 0; the three padding rows of the
    /// group are zero (scale 0, quants 0). Unit b: four scales at 144·b, then row k's 32 quants
    /// at 144·b + 16 + 32·k.
    func testInt8BytesAndScales() {
        var x = [Float](repeating: 0, count: 33)
        x[0] = 127; x[1] = -63.5; x[2] = 2.5; x[3] = -1; x[32] = -4
        let t = OwnedTensor(name: "t", shape: [1, 33], type: .int8, values: x)
        let b = storedBytes(t)
        XCTAssertEqual(b.count, 288)
        XCTAssertEqual(b.u32(at: 0), Float(1).bitPattern)
        XCTAssert(b[4..<16].allSatisfy { $0 == 0 }, "padding rows' scales")
        XCTAssertEqual(Array(b[16..<20]), [127, UInt8(bitPattern: -64), 2, UInt8(bitPattern: -1)])
        XCTAssert(b[20..<144].allSatisfy { $0 == 0 }, "rest of block 0, then the padding rows' quants")
        XCTAssertEqual(b.u32(at: 144), (Float(4) / 127).bitPattern)
        XCTAssertEqual(b[160], UInt8(bitPattern: -127), "second block: −4 is its maximum")
        XCTAssert(b[161..<288].allSatisfy { $0 == 0 }, "padding elements of the last block are q = 0")
    }

    /// Byte i of a block holds element i in its low nibble and element i + 16 in its high
    /// nibble; n = round(x/d) + 8, so 0 is nibble 8 and padding bytes are 0x88. A unit of two
    /// blocks: row k's two scales at 8·k, then row k's 32 bytes (block 0, block 1) at 32 + 32·k.
    func testInt4NibbleOrderAndPadding() {
        var x = [Float](repeating: 0, count: 33)
        x[0] = -8  // m: d = −8 / −8 = 1, n = 0
        x[16] = 7  // n = 15
        x[1] = 3  // n = 11
        x[32] = 2  // second block: m = 2, d = −0.25, n = round(2 / −0.25) + 8 = 0
        let t = OwnedTensor(name: "t", shape: [1, 33], type: .int4, values: x)
        let b = storedBytes(t)
        XCTAssertEqual(b.count, 160)
        XCTAssertEqual(b.u32(at: 0), Float(1).bitPattern)
        XCTAssertEqual(b.u32(at: 4), Float(-0.25).bitPattern)
        XCTAssert(b[8..<32].allSatisfy { $0 == 0 }, "padding rows' scales")
        XCTAssertEqual(b[32], 0xF0)
        XCTAssertEqual(b[33], 0x8B)
        XCTAssert(b[34..<48].allSatisfy { $0 == 0x88 })
        XCTAssertEqual(b[48], 0x80, "element 32 → low nibble 0, element 48 (padding) → high nibble 8")
        XCTAssert(b[49..<64].allSatisfy { $0 == 0x88 }, "padding elements are the value 0")
        XCTAssert(b[64..<160].allSatisfy { $0 == 0 }, "padding rows' quants")
    }

    /// Row r = 4g + k of a group: int8 scale of block b at g·groupBytes + 144·b + 4·k; an odd
    /// int4 row ends with a single-block unit (4 scales, then 4 × 16 bytes).
    func testBlocksOfGroupedRows() {
        // Row r has all elements equal to r + 1, so its int8 scale is (r + 1) / 127.
        let rows = 6, cols = 40
        let x = (0..<rows * cols).map { Float($0 / cols + 1) }
        let t = OwnedTensor(name: "t", shape: [rows, cols], type: .int8, values: x)
        let b = storedBytes(t)
        let l = t.view.layout
        XCTAssertEqual(l.groupBytes, 288)
        for r in 0..<rows {
            let g = r / 4, k = r % 4
            for blk in 0..<2 {
                XCTAssertEqual(b.u32(at: g * 288 + 144 * blk + 4 * k), (Float(r + 1) / 127).bitPattern, "row \(r) block \(blk)")
                XCTAssertEqual(l.blockOffsets(row: r, block: blk).scale, g * 288 + 144 * blk + 4 * k)
                XCTAssertEqual(l.blockOffsets(row: r, block: blk).quants, g * 288 + 144 * blk + 16 + 32 * k)
            }
            XCTAssertEqual(b[g * 288 + 16 + 32 * k], 127, "row \(r)'s first quant")
        }
        XCTAssert(b[(288 + 16 + 64)..<(288 + 144)].allSatisfy { $0 == 0 }, "rows 6, 7 are padding")
        let q4 = TensorLayout(type: .int4, shape: [5, 96])!  // three blocks: a pair unit, then one
        XCTAssertEqual(q4.groupBytes, 240)
        XCTAssertEqual(q4.blockOffsets(row: 1, block: 1).scale, 12)
        XCTAssertEqual(q4.blockOffsets(row: 1, block: 1).quants, 32 + 32 + 16)
        XCTAssertEqual(q4.blockOffsets(row: 2, block: 2).scale, 160 + 8)
        XCTAssertEqual(q4.blockOffsets(row: 2, block: 2).quants, 160 + 16 + 32)
        XCTAssertEqual(q4.blockOffsets(row: 4, block: 0).scale, 240)
    }

    /// int4k (§6.5), a row whose two blocks lie on 16-level grids: block 0 spans −1…2 (d = 0.2,
    /// minimum 1), block 1 holds one 3 (d = 0.2, minimum 0, the range always includes 0). The
    /// row's D = 0.2/255 and M = 1/255, so both scale codes are 255, block 0's minimum code 255
    /// and block 1's 0. Nibbles: −1 → 0, 2 → 15, 0.6 → 8, 0 → 5 in block 0; 3 → 15 and the
    /// padding (the level nearest 0) → 0 in block 1.
    func testInt4KBytesAndCodes() {
        var x = [Float](repeating: 0, count: 33)
        x[0] = -1; x[1] = 2; x[16] = 0.6; x[32] = 3
        let t = OwnedTensor(name: "t", shape: [1, 33], type: .int4k, values: x)
        let b = storedBytes(t)
        XCTAssertEqual(b.count, 176)
        XCTAssertEqual(Float(bitPattern: b.u32(at: 0)), 0.2 / 255, accuracy: 1e-9, "row 0's D")
        XCTAssertEqual(Float(bitPattern: b.u32(at: 4)), 1 / 255, accuracy: 1e-9, "row 0's M")
        XCTAssert(b[8..<32].allSatisfy { $0 == 0 }, "padding rows' D and M")
        XCTAssertEqual(Array(b[32..<36]), [255, 255, 255, 0], "row 0: scale and minimum codes of blocks 0 and 1")
        XCTAssert(b[36..<48].allSatisfy { $0 == 0 }, "padding rows' codes")
        XCTAssertEqual(Array(b[48..<51]), [0x80, 0x5F, 0x55], "block 0: (x0, x16), (x1, x17), (x2, x18)")
        XCTAssert(b[51..<64].allSatisfy { $0 == 0x55 }, "block 0's zeros are level 5")
        XCTAssertEqual(b[64], 0x0F, "block 1: x32 → 15, its padding element 48 → 0")
        XCTAssert(b[65..<176].allSatisfy { $0 == 0 }, "block 1's padding, then the padding rows' quants")
        let l = t.view.layout
        XCTAssertEqual(l.blockOffsets(row: 0, block: 1).scale, 34)
        XCTAssertEqual(l.blockOffsets(row: 0, block: 1).quants, 64)
        var out = [Float](repeating: .nan, count: 33)
        out.withUnsafeMutableBufferPointer { t.view.dequantizeRow(0, into: $0) }
        for j in 0..<33 { XCTAssertEqual(out[j], x[j], accuracy: 1e-6, "element \(j)") }
        let odd = TensorLayout(type: .int4k, shape: [5, 96])!  // a pair unit, then a single one
        XCTAssertEqual(odd.groupBytes, 32 + 144 + 72)
        XCTAssertEqual(odd.blockOffsets(row: 1, block: 1).scale, 32 + 6)
        XCTAssertEqual(odd.blockOffsets(row: 1, block: 1).quants, 32 + 16 + 32 + 16)
        XCTAssertEqual(odd.blockOffsets(row: 2, block: 2).scale, 32 + 144 + 4)
        XCTAssertEqual(odd.blockOffsets(row: 2, block: 2).quants, 32 + 144 + 8 + 32)
        XCTAssertEqual(odd.rowScalesOffset(row: 4), 248)
        XCTAssertEqual(odd.blockOffsets(row: 4, block: 0).scale, 248 + 32)
    }
}
