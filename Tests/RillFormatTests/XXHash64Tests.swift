import RillFormat
import XCTest

/// XXH64 (xxHash, 64-bit, seed 0) is the checksum of every section and tensor: a reader in
/// another language uses its own xxHash library, so ours must agree bit for bit. The expected
/// values come from the reference C library through Python's `xxhash` 3.x
/// (`xxhash.xxh64(data, seed=0).intdigest()`).
final class XXHash64Tests: XCTestCase {
    func testEmptyInputHashesToTheReferenceValue() {
        XCTAssertEqual(xxh64([]), 0xEF46_DB37_51D8_E999)
    }

    func testABCHashesToTheReferenceValue() {
        XCTAssertEqual(xxh64(Array("abc".utf8)), 0x44BC_2CF5_AD77_0999)
    }

    func testSeedChangesTheHash() {
        XCTAssertEqual(xxh64(Array("abc".utf8), seed: 1), 0xBEA9_CA81_9932_8908)
    }

    /// Lengths that reach each path of the algorithm: under one 32-byte stripe (8-, 4- and
    /// 1-byte tails), exactly one stripe, one stripe plus a byte, several stripes.
    func testEveryTailLengthMatchesTheReference() {
        XCTAssertEqual(xxh64([UInt8](repeating: 0x61, count: 31)), 0xFE47_067C_DA80_2916)
        XCTAssertEqual(xxh64([UInt8](repeating: 0x61, count: 32)), 0x856E_8432_98F9_9AD7)
        XCTAssertEqual(xxh64([UInt8](repeating: 0x61, count: 33)), 0x18F3_FF0C_21E3_B24B)
        XCTAssertEqual(xxh64((0..<256).map { UInt8($0) }), 0x1FAC_BE84_06CD_904B)
        XCTAssertEqual(xxh64(Array("Nobody inspects the spammish repetition".utf8)), 0xFBCE_A83C_8A37_8BF1)
    }

    func testPointerAndArrayFormsAgreeAtUnalignedStarts() {
        var rng = SplitMix64(seed: 7)
        let bytes = (0..<301).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        bytes.withUnsafeBytes { buf in
            for start in 0..<9 {
                XCTAssertEqual(xxh64(buf.baseAddress! + start, count: 301 - start), xxh64(Array(bytes[start...])))
            }
        }
    }
}
