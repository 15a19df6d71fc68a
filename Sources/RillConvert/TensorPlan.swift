import RillFormat

/// What a tensor is for, which decides its default storage type (`Formats/rill.md` §7).
public enum TensorRole: String, Sendable {
    /// A 2-D projection matrix: stored in the requested type.
    case projection
    /// A projection whose 4-bit error costs far more than the others': the requested type, but
    /// int8 under a 4-bit request. The first block's token-mixer input projection(s) (Mamba
    /// `in_proj`, TransNormerLLM `qkvu_proj`, attention's q/k/v: alone at int8 they take 15–40 %
    /// off the int4 KL of four of five fixtures) and Mamba's `dt_proj` (its output goes through
    /// softplus into exp(Δ·A): at int8 it takes 20–30 % off a 768-wide Mamba's), as llama.cpp's
    /// `_M` mixes give such tensors more bits.
    case sensitive
    /// The token embedding (also the LM head when tied): at least int8.
    case embedding
    /// An untied LM head: at least int8 (int4 logits lose the arg-max too often).
    case head
    /// Small or sensitive tensors (norms, A, D, dt bias, conv, decays, LRPE θ): always f32.
    case keepF32
}

/// One tensor of the output file: its name, shape, role and how to compute its values from
/// the checkpoint.
public struct PlannedTensor {
    public var name: String
    public var shape: [Int]
    public var role: TensorRole
    public var values: () throws -> [Float]
}

/// Reads source tensors with shape checks and refuses non-finite values.
final class SourceReader {
    let checkpoint: SafetensorsCheckpoint
    /// Source tensors a plan asked for; the rest are reported as ignored.
    private(set) var used = Set<String>()

    init(checkpoint: SafetensorsCheckpoint) { self.checkpoint = checkpoint }

    /// The source tensor, checked to have `shape`, and marked as used.
    @discardableResult
    func require(_ name: String, _ shape: [Int]) throws -> SafetensorsTensor {
        used.insert(name)
        return try checkpoint.tensor(name, shape: shape)
    }

    func has(_ name: String) -> Bool { checkpoint.tensor(name) != nil }

    /// The tensor's values; `shape` is the expected source shape.
    func values(_ name: String, _ shape: [Int]) throws -> [Float] {
        let t = try checkpoint.tensor(name, shape: shape)
        let v = try t.floats()
        if let bad = v.firstIndex(where: { !$0.isFinite }) {
            throw RillFileError.invalidField(path: t.path, field: "tensor '\(name)'[\(bad)]", expected: "finite values", found: "\(v[bad])")
        }
        return v
    }

    /// A planned tensor copied as is (same name, same shape).
    func copy(_ name: String, _ shape: [Int], _ role: TensorRole) throws -> PlannedTensor {
        try require(name, shape)  // fail early, before any writing
        return PlannedTensor(name: name, shape: shape, role: role) { try self.values(name, shape) }
    }
}
