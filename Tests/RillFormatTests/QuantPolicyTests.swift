import Foundation
import RillConvert
import RillFormat
import XCTest

/// The default quantisation policy of `Formats/rill.md` §7, overrides, and the converter's
/// derived tensors (TransNormerLLM decay slopes).
final class QuantPolicyTests: XCTestCase {
    func testProjectionsTakeTheRequestedType() {
        for q in QuantType.allCases {
            let want: QuantType = q == .int4 ? .int4k : q  // `--quant int4` stores int4k (format 2.4)
            XCTAssertEqual(QuantPolicy(requested: q).type(for: "x.in_proj.weight", shape: [512, 128], role: .projection), want)
        }
    }

    func testEmbeddingAndHeadAreAtLeastInt8() {
        let expected: [QuantType: QuantType] = [.f32: .f32, .f16: .f16, .int8: .int8, .int4: .int8, .int4k: .int8]
        for (q, want) in expected {
            for role in [TensorRole.embedding, .head] {
                XCTAssertEqual(QuantPolicy(requested: q).type(for: "e", shape: [2048, 128], role: role), want, "\(q) \(role)")
            }
        }
    }

    func testSensitiveTensorsStayF32() {
        for q in QuantType.allCases {
            XCTAssertEqual(QuantPolicy(requested: q).type(for: "x.mixer.A", shape: [256, 64], role: .keepF32), .f32)
        }
    }

    func testRowsShorterThanABlockStayF32() {
        let p = QuantPolicy(requested: .int4)
        XCTAssertEqual(p.type(for: "x.dt_proj.weight", shape: [256, 8], role: .projection), .f32)
        XCTAssertEqual(p.type(for: "x.dt_proj.weight", shape: [256, 31], role: .projection), .f32)
        XCTAssertEqual(p.type(for: "x.dt_proj.weight", shape: [256, 32], role: .projection), .int4k)
        XCTAssertEqual(p.type(for: "x.dt_proj.weight", shape: [256, 33], role: .projection), .int4k, "a partial last block is padded")
        XCTAssertEqual(QuantPolicy(requested: .f16).type(for: "x.dt_proj.weight", shape: [256, 8], role: .projection), .f16)
    }

    func testOneDimensionalTensorsAreNeverBlockQuantised() {
        let p = QuantPolicy(requested: .int8, overrides: [("*", .int8)])
        XCTAssertEqual(p.type(for: "b", shape: [4096], role: .projection), .f32)
    }

    func testLastMatchingOverrideWins() {
        let p = QuantPolicy(requested: .int4, overrides: [("*.weight", .f16), ("layers.1.*", .int8)])
        XCTAssertEqual(p.type(for: "layers.0.a.weight", shape: [64, 64], role: .projection), .f16)
        XCTAssertEqual(p.type(for: "layers.1.a.weight", shape: [64, 64], role: .projection), .int8)
        XCTAssertEqual(p.type(for: "layers.1.A", shape: [64, 64], role: .keepF32), .int8, "overrides apply to every role")
    }

    func testOverrideSyntax() {
        XCTAssertEqual(QuantPolicy.parseOverride("*.x_proj.weight=f32")?.pattern, "*.x_proj.weight")
        XCTAssertEqual(QuantPolicy.parseOverride("*.x_proj.weight=F32")?.type, .f32)
        XCTAssertEqual(QuantPolicy.parseOverride("a=b=q4")?.pattern, "a=b")
        XCTAssertNil(QuantPolicy.parseOverride("=int8"))
        XCTAssertNil(QuantPolicy.parseOverride("x=int3"))
        XCTAssertNil(QuantPolicy.parseOverride("x"))
    }

    func testGlobStarAndQuestionMark() {
        let p = QuantPolicy(requested: .int4, overrides: [("layers.?.mixer.*_proj.weight", .f16)])
        XCTAssertEqual(p.type(for: "layers.3.mixer.out_proj.weight", shape: [64, 64], role: .projection), .f16)
        XCTAssertEqual(p.type(for: "layers.12.mixer.out_proj.weight", shape: [64, 64], role: .projection), .int4k)
        XCTAssertEqual(p.type(for: "layers.3.mixer.out_proj.bias", shape: [64, 64], role: .projection), .int4k)
    }

    /// `--quant int4` stores projections as int4k (format 2.4); the symmetric int4 remains an
    /// override's choice; int4k asked by name behaves as int4.
    func testInt4RequestStoresInt4KAndOverridesReachInt4() {
        let p = QuantPolicy(requested: .int4, overrides: [("layers.1.*", .int4)])
        XCTAssertEqual(p.type(for: "layers.0.a.weight", shape: [64, 64], role: .projection), .int4k)
        XCTAssertEqual(p.type(for: "layers.1.a.weight", shape: [64, 64], role: .projection), .int4)
        XCTAssertEqual(p.type(for: "embed.weight", shape: [64, 64], role: .embedding), .int8)
        let k = QuantPolicy(requested: .int4k)
        XCTAssertEqual(k.type(for: "layers.0.a.weight", shape: [64, 64], role: .projection), .int4k)
        XCTAssertEqual(k.type(for: "embed.weight", shape: [64, 64], role: .head), .int8)
        XCTAssertEqual(QuantPolicy.parseOverride("x=Q4K")?.type, .int4k)
        XCTAssertEqual(p.type(for: "layers.0.attn.qkv.weight", shape: [64, 64], role: .sensitive), .int8)
        XCTAssertEqual(QuantPolicy(requested: .int8).type(for: "l.0.in_proj.weight", shape: [64, 64], role: .sensitive), .int8)
        XCTAssertEqual(QuantPolicy(requested: .f16).type(for: "l.0.in_proj.weight", shape: [64, 64], role: .sensitive), .f16)
    }

    // MARK: - TransNormerLLM slopes

    func testSlopesForPowerOfTwoHeads() {
        XCTAssertEqual(transNormerSlopes(heads: 4), [0.25, 0.0625, 0.015625, 0.00390625])
        XCTAssertEqual(transNormerSlopes(heads: 8), (1...8).map { pow(2, -Double($0)) })
        XCTAssertEqual(transNormerSlopes(heads: 1), [1.0 / 256])
    }

    /// Non-power-of-two n: the slopes of the largest power of two p below n, then every second
    /// slope of 2p heads, until n are taken (the ALiBi workaround the reference uses).
    func testSlopesForNonPowerOfTwoHeads() {
        XCTAssertEqual(transNormerSlopes(heads: 6), [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125])
        let twelve = transNormerSlopes(heads: 12)
        XCTAssertEqual(Array(twelve[..<8]), (1...8).map { pow(2, -Double($0)) })
        for (got, e) in zip(twelve[8...], [0.5, 1.5, 2.5, 3.5]) { XCTAssertEqual(got, pow(2, -e), accuracy: 1e-15) }
    }

    func testLayerScalingGoesFromOneToAlmostZero() {
        let s = [0.25, 0.5]
        XCTAssertEqual(transNormerLayerSlopes(s, layer: 0, numLayers: 5), [Float(0.25) * Float(1 + 1e-5), Float(0.5) * Float(1 + 1e-5)])
        XCTAssertEqual(transNormerLayerSlopes(s, layer: 4, numLayers: 5), [Float(0.25) * Float(1e-5), Float(0.5) * Float(1e-5)])
        XCTAssertEqual(transNormerLayerSlopes(s, layer: 2, numLayers: 5), [Float(0.25) * Float(0.5 + 1e-5), Float(0.5) * Float(0.5 + 1e-5)])
    }
}
