import Foundation
import RillConvert
import RillFormat
import XCTest

/// `config.json` files written by the reference implementations' own configuration classes
/// (`Tools/oracles/config_oracle.py`: transformers' `MambaConfig`, the TransNormerLLM remote
/// code's `TransnormerConfig`, fla 0.6.0's `SambaConfig`; defaults and other values, saved
/// whole and as a diff against the defaults, booleans as `true`/`false` and as `1`/`0`)
/// decode to exactly the hyper-parameters the reference *models* are built from, which the
/// script computed alongside (`expected.json`).
final class ConfigOracleTests: XCTestCase {
    func testMambaConfigsReadAsTransformersReadsThem() throws { try checkCases("mamba", count: 6) }
    func testTransNormerConfigsReadAsTheRemoteCodeReadsThem() throws { try checkCases("transnormer", count: 5) }
    func testSambaConfigsReadAsFlaReadsThem() throws { try checkCases("samba", count: 6) }
    func testSubllmConfigsReadAsXiaoMisModuleReadsThem() throws { try checkCases("subllm", count: 5) }
    func testLlamaConfigsReadAsTransformersReadsThem() throws { try checkCases("llama", count: 5) }

    private func checkCases(_ arch: String, count: Int) throws {
        let dir = Fixtures.root.appendingPathComponent("configs/\(arch)")
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        XCTAssertEqual(expected.cases.count, count, "cases in expected.json")
        for (name, want) in expected.cases.sorted(by: { $0.key < $1.key }) {
            let decoded: CheckpointConfig
            do {
                decoded = try HFConfigDecoder.decode(path: dir.appendingPathComponent("\(name).json").path)
            } catch {
                XCTFail("\(arch)/\(name): \(error)")
                continue
            }
            var got = try hyperParameters(decoded.config)
            got["tie_word_embeddings"] = nil  // decided with the tensors: compared as the rule
            got["rope_scaling"] = nil  // Rill's description; the frequencies are tested apart
            switch decoded.tie {
            case let .flag(b): got["tie"] = .bool(b)
            case .unsetTiedWhenHeadAbsent: got["tie"] = .string("unset")
            case let .shared(b): got["tie"] = .bool(b)
            }
            // A model without attention layers reads no head settings: compare those only
            // where the reference has them.
            if case let .list(layers)? = want["attention_layers"], layers.isEmpty {
                for key in ["num_heads", "num_kv_heads", "head_dim", "window_size", "rope_theta", "qkv_bias"] { got[key] = nil }
            }
            XCTAssertEqual(Set(got.keys), Set(want.keys), "\(arch)/\(name): keys")
            for (key, w) in want {
                guard let g = got[key] else { continue }
                XCTAssert(g.matches(w), "\(arch)/\(name): \(key) is \(g), the reference reads \(w)")
            }
        }
    }

    struct Expected: Decodable {
        let cases: [String: [String: ConfigValue]]
    }
}

/// The `.rill` config as the format writes it (`Formats/rill.md` §4.3), key by key.
func hyperParameters(_ c: ModelConfig) throws -> [String: ConfigValue] {
    let data: Data
    switch c {
    case let .mamba(m): data = try JSONEncoder().encode(m)
    case let .transnormer(t): data = try JSONEncoder().encode(t)
    case let .samba(s): data = try JSONEncoder().encode(s)
    case let .subllm(s): data = try JSONEncoder().encode(s)
    }
    return try JSONDecoder().decode([String: ConfigValue].self, from: data)
}

/// A JSON scalar or list, compared with a relative tolerance of one f32 rounding for
/// numbers (the `.rill` config holds ε and θ as f32).
enum ConfigValue: Decodable, CustomStringConvertible {
    case bool(Bool), number(Double), string(String), list([ConfigValue]), null

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else { self = .list(try c.decode([ConfigValue].self)) }
    }

    func matches(_ o: ConfigValue) -> Bool {
        switch (self, o) {
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b || abs(a - b) <= 1e-7 * max(abs(a), abs(b))
        case let (.string(a), .string(b)): return a == b
        case let (.list(a), .list(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.matches($1) }
        case (.null, .null): return true
        default: return false
        }
    }

    var description: String {
        switch self {
        case let .bool(b): return "\(b)"
        case let .number(n): return "\(n)"
        case let .string(s): return "\"\(s)\""
        case let .list(l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .null: return "null"
        }
    }
}
