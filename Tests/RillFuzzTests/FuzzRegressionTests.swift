import Foundation
import RillConvert
import RillFormat
import RillRuntime
import XCTest

/// Inputs the fuzz targets found crashing a parser, kept so that the fix stays fixed. Each
/// must now be refused with a typed error naming the file and the field.
final class FuzzRegressionTests: XCTestCase {
    private func expectConfigError(_ json: String, field: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try HFConfigDecoder.decode(data: Data(json.utf8), path: "config.json"), file: file, line: line) { error in
            guard case let RillFileError.invalidField(path, f, _, _) = error else {
                return XCTFail("expected invalidField, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(path, "config.json", file: file, line: line)
            XCTAssertEqual(f, field, file: file, line: line)
        }
    }

    /// `expand · hidden_size` overflowed `Int` (a trap) in the SAMBA decoder.
    func testSambaHugeExpandIsRefusedNotOverflowed() {
        expectConfigError("""
            {"model_type": "samba", "hidden_size": 128, "num_hidden_layers": 2, "vocab_size": 64,
             "expand": 9223372036854775807, "attn": {"layers": [1], "num_heads": 4, "window_size": 16}}
            """, field: "expand")
    }

    /// `hidden_size · hidden_ratio · 2` overflowed in the SAMBA MLP width.
    func testSambaHugeHiddenRatioIsRefusedNotOverflowed() {
        expectConfigError("""
            {"model_type": "samba", "hidden_size": 128, "num_hidden_layers": 2, "vocab_size": 64,
             "hidden_ratio": 4611686018427387904, "attn": {"layers": [1], "num_heads": 4, "window_size": 16}}
            """, field: "hidden_ratio")
    }

    /// `expand · hidden_size` and the "auto" rank's `hidden + 15` overflowed in the Mamba decoder.
    func testMambaHugeHiddenOrExpandIsRefusedNotOverflowed() {
        expectConfigError("""
            {"model_type": "mamba", "hidden_size": 9223372036854775807, "num_hidden_layers": 2, "vocab_size": 64}
            """, field: "hidden_size")
        expectConfigError("""
            {"model_type": "mamba", "hidden_size": 128, "num_hidden_layers": 2, "vocab_size": 64, "expand": -9223372036854775808}
            """, field: "expand")
    }

    /// A huge `decoder_layers` sized the per-layer LRPE list before any bound was checked.
    func testTransNormerHugeLayerCountIsRefusedBeforeAllocating() {
        expectConfigError("""
            {"model_type": "transnormer", "decoder_embed_dim": 128, "hidden_dim": 128, "decoder_layers": 1099511627776,
             "decoder_attention_heads": 4, "glu_dim": 256, "vocab_size": 64}
            """, field: "decoder_layers")
    }

    // MARK: - Found by the limits audit

    /// An EOS id beyond Int32 reached `Int32(_:)` in `rill run` (a trap); now refused at open.
    func testRillFileWithEOSBeyondInt32IsRefused() throws {
        let seed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try FuzzFixtures.rillPath("mamba", .int4))))
        var parts = try XCTUnwrap(RillParts(seed))
        var meta = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(parts.metadata)) as? [String: Any])
        meta["eos_token_id"] = 1 << 40
        parts.metadata = [UInt8](try JSONSerialization.data(withJSONObject: meta))
        let path = FuzzFile.write(parts.assemble(), tag: "regression")
        XCTAssertThrowsError(try RillFile(path: path)) { error in
            guard case let RillFileError.invalidField(p, field, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertEqual(field, "metadata.eos_token_id")
        }
    }

    /// A window of 2^20 tokens on 4,096-wide attention asks for 32 GiB of key/value rings per
    /// layer, from a config of a few hundred bytes: refused before any session allocates them.
    func testSambaWindowStateBeyondTheBoundIsRefused() {
        expectConfigError("""
            {"model_type": "samba", "hidden_size": 4096, "num_hidden_layers": 2, "vocab_size": 64,
             "attn": {"layers": [1], "num_heads": 32, "window_size": 1048576}}
            """, field: "config.window_size")
    }

    /// The converter refuses the same id in `config.json`, so it never writes such a file.
    func testConfigWithNegativeBOSIsRefused() {
        expectConfigError("""
            {"model_type": "mamba", "hidden_size": 128, "num_hidden_layers": 2, "vocab_size": 64, "bos_token_id": -5}
            """, field: "bos_token_id")
    }

    /// A header announcing 2^20 tensors with a one-entry table is refused after reading that
    /// entry, without reserving room for 2^20 entries first.
    func testTensorCountBeyondTheTableIsRefused() throws {
        let seed = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try FuzzFixtures.rillPath("mamba", .int4))))
        var parts = try XCTUnwrap(RillParts(seed))
        parts.tensorCount = 1 << 20
        let path = FuzzFile.write(parts.assemble(), tag: "regression")
        XCTAssertThrowsError(try RillFile(path: path)) { error in
            guard case let RillFileError.invalidField(_, field, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(field.hasPrefix("tensor_table["), field)
        }
    }

    /// A state file was read whole before any check: now one longer than any frame of this
    /// model's state is refused before it is read.
    func testOversizedStateFileIsRefusedBeforeReading() throws {
        let model = try Model(path: try FuzzFixtures.rillPath("mamba", .f32))
        let session = Session(model: model, threads: 1)
        let path = FuzzFile.write([0x04, 0x22, 0x4D, 0x18] + [UInt8](repeating: 0, count: 8 << 20), tag: "regression-state")
        XCTAssertThrowsError(try StateFile.load(into: session, sampler: nil, from: path)) { error in
            guard case let StateFileError.corrupted(p, field, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertEqual(field, "file size")
        }
    }
}
