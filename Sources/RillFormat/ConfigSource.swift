/// Where `rill convert` found one hyper-parameter of the `config` object (`Formats/rill.md`
/// §4.7): shown by `rill inspect` so that a user can tell a value the checkpoint states from
/// one Rill supplied.
public struct ConfigSource: Codable, Sendable, Equatable {
    public enum Origin: String, Codable, Sendable {
        /// Read from `config.json` under the reference's own name for it.
        case file
        /// Read from `config.json` under another name the reference maps onto it
        /// (`attribute_map`, e.g. `n_layer` for `decoder_layers`).
        case alias
        /// Absent from `config.json`: the reference configuration class's default.
        case `default`
        /// Computed from other fields as the reference computes it (e.g. `expand · hidden_size`).
        case derived
    }

    public var origin: Origin
    /// The `config.json` key read (`file`, `alias`) or missing (`default`), or the rule
    /// (`derived`). Nested keys are written with dots (`attn.window_size`).
    public var key: String

    public init(_ origin: Origin, _ key: String) {
        self.origin = origin
        self.key = key
    }

    /// One line for people: `file (hidden_size)`, `alias n_layer`, `default`, `derived: …`.
    public var description: String {
        switch origin {
        case .file: return "file"
        case .alias: return "alias \(key)"
        case .default: return "default"
        case .derived: return "derived: \(key)"
        }
    }
}
