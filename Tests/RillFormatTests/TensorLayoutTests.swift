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

    /// rows × blocks × 32 quant bytes, then at the next multiple of 64 the f32 scales.
    func testBlockLayoutSizes() {
        let cases: [(QuantType, [Int], Int, Int, Int)] = [
            // type, shape, blocksPerRow, scalesOffset, byteCount
            (.int8, [1, 1], 1, 64, 68),  // 32 quant bytes, scales at 64
            (.int8, [2, 33], 2, 128, 144),
            (.int8, [3, 2, 32], 1, 192, 216),  // rows = 3·2
            (.int4, [1, 33], 2, 64, 72),  // 32 quant bytes
            (.int4, [7, 257], 9, 1024, 1276),  // 7·9·16 = 1008 → 1024; + 63·4
            (.int4, [4, 32], 1, 64, 80),
        ]
        for (type, shape, nb, so, bc) in cases {
            let l = TensorLayout(type: type, shape: shape)!
            XCTAssertEqual(l.blocksPerRow, nb, "\(type) \(shape)")
            XCTAssertEqual(l.scalesOffset, so, "\(type) \(shape)")
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

    /// d = 1: q = round(x), ties to even; padding elements are 0; the gap between the quants
    /// and the scales is zero.
    func testInt8BytesAndScales() {
        var x = [Float](repeating: 0, count: 33)
        x[0] = 127; x[1] = -63.5; x[2] = 2.5; x[3] = -1; x[32] = -4
        let t = OwnedTensor(name: "t", shape: [1, 33], type: .int8, values: x)
        let b = storedBytes(t)
        XCTAssertEqual(Array(b[0..<4]), [127, UInt8(bitPattern: -64), 2, UInt8(bitPattern: -1)])
        XCTAssertEqual(b[32], UInt8(bitPattern: -127), "second block: −4 is its maximum")
        XCTAssert(b[33..<64].allSatisfy { $0 == 0 }, "padding elements of the last block are q = 0")
        XCTAssertEqual(b.u32(at: 64), Float(1).bitPattern)
        XCTAssertEqual(b.u32(at: 68), (Float(4) / 127).bitPattern)
        XCTAssertEqual(b.count, 72)
    }

    /// Byte i of a block holds element i in its low nibble and element i + 16 in its high
    /// nibble; n = round(x/d) + 8, so 0 is nibble 8 and padding bytes are 0x88.
    func testInt4NibbleOrderAndPadding() {
        var x = [Float](repeating: 0, count: 33)
        x[0] = -8  // m: d = −8 / −8 = 1, n = 0
        x[16] = 7  // n = 15
        x[1] = 3  // n = 11
        x[32] = 2  // second block: m = 2, d = −0.25, n = round(2 / −0.25) + 8 = 0
        let t = OwnedTensor(name: "t", shape: [1, 33], type: .int4, values: x)
        let b = storedBytes(t)
        XCTAssertEqual(b[0], 0xF0)
        XCTAssertEqual(b[1], 0x8B)
        XCTAssert(b[2..<16].allSatisfy { $0 == 0x88 })
        XCTAssertEqual(b[16], 0x80, "element 32 → low nibble 0, element 48 (padding) → high nibble 8")
        XCTAssert(b[17..<32].allSatisfy { $0 == 0x88 }, "padding elements are the value 0")
        XCTAssert(b[32..<64].allSatisfy { $0 == 0 }, "gap before the scales")
        XCTAssertEqual(b.u32(at: 64), Float(1).bitPattern)
        XCTAssertEqual(b.u32(at: 68), Float(-0.25).bitPattern)
    }

    func testScalesOfRowsAreRowMajorAfterAllQuants() {
        // Row r has all elements equal to r + 1, so its int8 scale is (r + 1) / 127.
        let rows = 3, cols = 40
        let x = (0..<rows * cols).map { Float($0 / cols + 1) }
        let t = OwnedTensor(name: "t", shape: [rows, cols], type: .int8, values: x)
        let b = storedBytes(t)
        let l = t.view.layout
        XCTAssertEqual(l.scalesOffset, 192)
        for r in 0..<rows {
            for k in 0..<2 {
                XCTAssertEqual(b.u32(at: l.scalesOffset + 4 * (r * 2 + k)), (Float(r + 1) / 127).bitPattern)
            }
            XCTAssertEqual(b[r * 64], 127, "row \(r)'s quants start at r · blocksPerRow · 32")
        }
    }
}
