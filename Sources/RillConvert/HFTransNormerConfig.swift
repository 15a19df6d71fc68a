import RillFormat

/// OpenNLPLab's `TransnormerConfig` as `TransnormerForCausalLM` reads it
/// (`configuration_transnormer.py` and `modeling_transnormer.py` of the Hugging Face remote
/// code, github weigao266/TNL-MoE `smoe/models/tnl/` at 007576f; no `attribute_map`).
///
/// | config.json key | default | how the model uses it |
/// |---|---|---|
/// | `decoder_embed_dim` | 1024 | model width d |
/// | `decoder_layers` | 24 | L; slopes scale by 1 − i/(L−1), so L ≥ 2 |
/// | `decoder_attention_heads` | 8 | H, dividing `hidden_dim` |
/// | `hidden_dim` | 1024 | token-mixer width |
/// | `glu_dim` | 2816 | channel-mixer width; −1 → d |
/// | `vocab_size` | 64000 | embedding rows |
/// | `linear_use_lrpe_list` | `[]` | entry i tested for truth: LRPE in layer i (a longer list is cut to L) |
/// | `linear_use_lrpe` | none | read for every layer only when the list is empty; the reference then needs it |
/// | `no_scale_embedding` | false | `1.0 if no_scale_embedding else sqrt(d)`: tested for truth |
/// | `norm_type` | `"simplermsnorm"` | the only norm Rill implements (ε 1e-6, the module's constant) |
/// | `linear_act_fun` | `"silu"` | q/k activation |
/// | `bias` | false | biases of every linear layer: tested for truth |
/// | `tie_word_embeddings` | unset | transformers 5 does not tie; 4.x tied by default (``TieRule``) |
enum HFTransNormer {
    static let inertKeys: Set<String> = ["init_std", "add_bos_token"]

    static func read(_ r: inout ConfigReader) throws(RillFileError) -> (config: ModelConfig, tie: TieRule, inert: Set<String>) {
        let L = ModelLimits.self
        let embed = try r.int("embed_dim", ["decoder_embed_dim"], default: 1024, in: 1...L.maxWidth)
        let layers = try r.int("num_layers", ["decoder_layers"], default: 24, in: 2...L.maxLayers)
        let hidden = try r.int("hidden_dim", ["hidden_dim"], default: 1024, in: 1...L.maxWidth)
        let heads = try r.int("num_heads", ["decoder_attention_heads"], default: 8, in: 1...L.maxWidth)
        guard hidden % heads == 0 else {
            throw r.error("decoder_attention_heads", "a divisor of hidden_dim (\(hidden))", found: "\(heads)")
        }
        var glu = try r.int("glu_dim", ["glu_dim"], default: 2816, in: -1...L.maxWidth * 8)
        if glu == -1 {
            glu = embed
            r.derived("glu_dim", "decoder_embed_dim (glu_dim −1)")
        } else if glu == 0 {
            throw r.error("glu_dim", "a positive width or −1 (= decoder_embed_dim)", found: "0")
        }
        let vocab = try r.int("vocab_size", ["vocab_size"], default: 64000, in: 1...L.maxVocab)
        let lrpe = try lrpeLayers(&r, layers: layers)
        if lrpe.contains(true) && hidden != embed {
            // The reference sizes LRPE's θ by decoder_embed_dim / heads but applies it to
            // hidden_dim / heads wide heads: it only runs when the two are equal.
            throw r.error("hidden_dim", "equal to decoder_embed_dim (\(embed)) when LRPE is used", found: "\(hidden)")
        }
        let noScale = try r.flag("no_scale_embedding", ["no_scale_embedding"], default: false)
        _ = try r.string(nil, ["norm_type"], default: "simplermsnorm", allowed: ["simplermsnorm"], why: "the only norm Rill implements")
        _ = try r.string(nil, ["linear_act_fun"], default: "silu", allowed: ["silu", "swish"], why: "the only activation Rill implements")
        if try r.flag(nil, ["bias"], default: false) {
            throw r.error("bias", "false (linear biases are not implemented)", found: "true")
        }
        r.derived("norm_epsilon", "1e-6 (SimpleRMSNorm's constant in the reference)")
        let tie: TieRule
        if r.has("tie_word_embeddings") {
            let t = try r.flag("tie_word_embeddings", ["tie_word_embeddings"], default: false)
            tie = .flag(t)
        } else {
            r.consult(["tie_word_embeddings"])
            tie = .unsetTiedWhenHeadAbsent
        }
        let config = TransNormerConfig(
            embedDim: embed, hiddenDim: hidden, numLayers: layers, numHeads: heads, gluDim: glu, vocabSize: vocab,
            lrpeLayers: lrpe, noScaleEmbedding: noScale, normEpsilon: 1e-6, tieWordEmbeddings: tie == .flag(true))
        return (.transnormer(config), tie, inertKeys)
    }

    /// LRPE per layer: `linear_use_lrpe_list[i]` tested for truth, or — when the list is empty
    /// — `linear_use_lrpe` for every layer, which the reference then reads unconditionally.
    static func lrpeLayers(_ r: inout ConfigReader, layers: Int) throws(RillFileError) -> [Bool] {
        var list: [Bool] = []
        if let (key, v) = try r.lookup(["linear_use_lrpe_list"]) {
            guard case let .array(items) = v else { throw r.error(key, "a list of 0/1 flags, one per layer", v) }
            for (i, item) in items.enumerated() { list.append(try r.truth(item, key: "\(key)[\(i)]")) }
        }
        if list.isEmpty {
            guard let (key, v) = try r.lookup(["linear_use_lrpe"]) else {
                throw r.error("linear_use_lrpe", "a value when linear_use_lrpe_list is empty (the reference reads it for every layer)", found: "none")
            }
            let on = try r.truth(v, key: key)
            r.found("lrpe_layers", key)
            return Array(repeating: on, count: layers)
        }
        r.consult(["linear_use_lrpe"])  // set by the reference from the list; the key itself is unused
        guard list.count >= layers else {
            throw r.error("linear_use_lrpe_list", "at least \(layers) entries (decoder_layers)", found: "\(list.count)")
        }
        r.found("lrpe_layers", "linear_use_lrpe_list")
        return Array(list.prefix(layers))
    }
}
