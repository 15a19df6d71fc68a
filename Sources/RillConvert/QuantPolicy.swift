import RillFormat

/// Chooses each tensor's storage type from its role, the requested quantisation and the
/// user's `PATTERN=TYPE` overrides (the last matching override wins).
public struct QuantPolicy: Sendable {
    public var requested: QuantType
    public var overrides: [(pattern: String, type: QuantType)]

    public init(requested: QuantType, overrides: [(pattern: String, type: QuantType)] = []) {
        self.requested = requested
        self.overrides = overrides
    }

    /// Parses `PATTERN=TYPE` (TYPE one of f32, f16, int8, int4, int4k; PATTERN a glob with `*`, `?`).
    public static func parseOverride(_ s: String) -> (pattern: String, type: QuantType)? {
        guard let eq = s.lastIndex(of: "=") else { return nil }
        let pattern = String(s[..<eq])
        guard !pattern.isEmpty, let type = QuantType(name: String(s[s.index(after: eq)...])) else { return nil }
        return (pattern, type)
    }

    public func type(for name: String, shape: [Int], role: TensorRole) -> QuantType {
        var t: QuantType
        switch role {
        case .keepF32: t = .f32
        // `--quant int4` asks for the best 4-bit encoding, which since format 2.4 is int4k
        // (`Formats/rill.md` §6.5); the symmetric int4 stays reachable by override.
        case .projection: t = requested == .int4 ? .int4k : requested
        case .embedding, .head, .sensitive: t = requested == .int4 || requested == .int4k ? .int8 : requested
        }
        for o in overrides where globMatch(o.pattern, name) { t = o.type }
        // A row shorter than one block would be padded to 32 elements: no smaller than f32
        // and less exact, so such tensors stay f32 (e.g. Mamba's dt_proj with dt_rank 8).
        if t.isBlockQuantised, (shape.last ?? 0) < QuantType.blockSize { t = .f32 }
        // 1-D tensors are never block-quantised (norm weights, biases).
        if t.isBlockQuantised, shape.count < 2 { t = .f32 }
        return t
    }
}

/// Shell-style glob: `*` any run of characters, `?` one character.
func globMatch(_ pattern: String, _ text: String) -> Bool {
    let p = Array(pattern.unicodeScalars), t = Array(text.unicodeScalars)
    var pi = 0, ti = 0, star = -1, mark = 0
    while ti < t.count {
        if pi < p.count, p[pi] == "?" || p[pi] == t[ti] {
            pi += 1; ti += 1
        } else if pi < p.count, p[pi] == "*" {
            star = pi; mark = ti; pi += 1
        } else if star >= 0 {
            pi = star + 1; mark += 1; ti = mark
        } else {
            return false
        }
    }
    while pi < p.count, p[pi] == "*" { pi += 1 }
    return pi == p.count
}
