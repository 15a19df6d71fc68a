import Foundation
import RillConvert
import RillFormat
import RillTokenizer

/// Small, valid inputs the mutations start from: tiny `.rill` models written by the converter,
/// a small byte-level tokenizer, and safetensors files shrunk from the fixtures' headers.
enum FuzzFixtures {
    nonisolated(unsafe) private static var cache: [String: String] = [:]
    private static let lock = NSLock()

    /// A byte-level BPE `tokenizer.json` with the 256 byte tokens, `<|endoftext|>` and four
    /// merges (261 ids): small enough to load thousands of times.
    static let smallTokenizerJSON: [UInt8] = {
        var vocab: [(String, Int)] = []
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            let scalar: Unicode.Scalar
            if printable {
                scalar = Unicode.Scalar(UInt8(b))
            } else {
                scalar = Unicode.Scalar(next)!
                next += 1
            }
            vocab.append((String(Character(scalar)), b))
        }
        vocab += [("<|endoftext|>", 256), ("Ġt", 257), ("he", 258), ("Ġthe", 259), ("in", 260)]
        func quoted(_ s: String) -> String {
            let data = try! JSONEncoder().encode(s)
            return String(decoding: data, as: UTF8.self)
        }
        let vocabJSON = vocab.map { "\(quoted($0.0)): \($0.1)" }.joined(separator: ", ")
        let json = """
            {"version": "1.0", "truncation": null, "padding": null,
             "added_tokens": [{"id": 256, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
                               "rstrip": false, "normalized": false, "special": true}],
             "normalizer": null,
             "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
             "post_processor": null,
             "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
             "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                       "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                       "vocab": {\(vocabJSON)},
                       "merges": [["Ġ", "t"], ["h", "e"], ["Ġt", "he"], ["i", "n"]]}}
            """
        return Array(json.utf8)
    }()

    /// The same tokenizer with merges in the older `"a b"` string form and NFC normalisation.
    static var smallTokenizerJSONStringMerges: [UInt8] {
        var s = String(decoding: smallTokenizerJSON, as: UTF8.self)
        s = s.replacingOccurrences(of: "[[\"Ġ\", \"t\"], [\"h\", \"e\"], [\"Ġt\", \"he\"], [\"i\", \"n\"]]", with: "[\"Ġ t\", \"h e\", \"Ġt he\", \"i n\"]")
        s = s.replacingOccurrences(of: "\"normalizer\": null", with: "\"normalizer\": {\"type\": \"NFC\"}")
        return Array(s.utf8)
    }

    /// Tiny Mamba (d 8, E 16, N 4, K 4, R 2, V 264, 2 layers), as a checkpoint folder.
    static func writeMambaCheckpoint(to dir: URL, withTokenizer: Bool) throws {
        let d = 8, e = 16, n = 4, k = 4, r = 2, v = 264, layers = 2
        var rng = SplitMix64(seed: 7)
        var tensors: [(String, [Int])] = [("backbone.embeddings.weight", [v, d]), ("backbone.norm_f.weight", [d])]
        for i in 0..<layers {
            let p = "backbone.layers.\(i)."
            tensors += [
                (p + "norm.weight", [d]), (p + "mixer.A_log", [e, n]), (p + "mixer.D", [e]),
                (p + "mixer.conv1d.weight", [e, 1, k]), (p + "mixer.conv1d.bias", [e]),
                (p + "mixer.in_proj.weight", [2 * e, d]), (p + "mixer.x_proj.weight", [r + 2 * n, e]),
                (p + "mixer.dt_proj.weight", [e, r]), (p + "mixer.dt_proj.bias", [e]),
                (p + "mixer.out_proj.weight", [d, e]),
            ]
        }
        let config = """
            {"architectures": ["MambaForCausalLM"], "model_type": "mamba", "hidden_size": \(d), "num_hidden_layers": \(layers),
             "vocab_size": \(v), "state_size": \(n), "conv_kernel": \(k), "expand": 2, "intermediate_size": \(e),
             "time_step_rank": \(r), "layer_norm_epsilon": 1e-05, "use_conv_bias": true, "use_bias": false,
             "tie_word_embeddings": true, "bos_token_id": 256, "eos_token_id": 256}
            """
        try writeCheckpoint(dir, config: config, tensors: tensors, rng: &rng)
        if withTokenizer { try Data(smallTokenizerJSON).write(to: dir.appendingPathComponent("tokenizer.json")) }
    }

    /// Tiny TransNormerLLM (d 8, 2 heads, GLU 16, V 264, 2 layers, LRPE on layer 0).
    static func writeTransNormerCheckpoint(to dir: URL) throws {
        let d = 8, g = 16, v = 264, heads = 2, layers = 2
        var rng = SplitMix64(seed: 8)
        var tensors: [(String, [Int])] = [("model.embed_tokens.weight", [v, d]), ("lm_head.weight", [v, d])]
        for i in 0..<layers {
            let p = "model.layers.\(i)."
            tensors += [
                (p + "token_mixer.qkvu_proj.weight", [4 * d, d]), (p + "token_mixer.out_proj.weight", [d, d]),
                (p + "channel_mixer.l1.weight", [g, d]), (p + "channel_mixer.l2.weight", [g, d]),
                (p + "channel_mixer.l3.weight", [d, g]),
            ]
            if i == 0 { tensors.append((p + "token_mixer.lrpe.theta", [heads, 1, d / heads])) }
        }
        let config = """
            {"model_type": "transnormer", "architectures": ["TransnormerForCausalLM"], "decoder_embed_dim": \(d),
             "hidden_dim": \(d), "decoder_layers": \(layers), "decoder_attention_heads": \(heads), "glu_dim": \(g),
             "vocab_size": \(v), "linear_use_lrpe_list": [1, 0], "no_scale_embedding": false,
             "norm_type": "simplermsnorm", "linear_act_fun": "silu", "bias": false}
            """
        try writeCheckpoint(dir, config: config, tensors: tensors, rng: &rng)
    }

    /// Tiny SAMBA (d 8, E 16, N 4, 2 layers: Mamba then sliding-window attention with 2 heads,
    /// 1 KV head, window 8; MLP 256, the GatedMLP's multiple of 256).
    static func writeSambaCheckpoint(to dir: URL) throws {
        let d = 8, e = 16, n = 4, k = 4, r = 2, v = 264, m = 256, qd = 8, kvd = 4
        var rng = SplitMix64(seed: 9)
        var tensors: [(String, [Int])] = [("backbone.embeddings.weight", [v, d]), ("backbone.norm_f.weight", [d])]
        for i in 0..<2 {
            let p = "backbone.layers.\(i)."
            tensors += [(p + "mixer_norm.weight", [d]), (p + "mlp_norm.weight", [d]), (p + "mlp.gate_proj.weight", [m, d]),
                        (p + "mlp.up_proj.weight", [m, d]), (p + "mlp.down_proj.weight", [d, m])]
            if i == 1 {
                tensors += [(p + "mixer.q_proj.weight", [qd, d]), (p + "mixer.k_proj.weight", [kvd, d]),
                            (p + "mixer.v_proj.weight", [kvd, d]), (p + "mixer.o_proj.weight", [d, qd])]
            } else {
                tensors += [
                    (p + "mixer.A_log", [e, n]), (p + "mixer.D", [e]), (p + "mixer.conv1d.weight", [e, 1, k]),
                    (p + "mixer.conv1d.bias", [e]), (p + "mixer.in_proj.weight", [2 * e, d]),
                    (p + "mixer.x_proj.weight", [r + 2 * n, e]), (p + "mixer.dt_proj.weight", [e, r]),
                    (p + "mixer.dt_proj.bias", [e]), (p + "mixer.out_proj.weight", [d, e]),
                ]
            }
        }
        let config = """
            {"model_type": "samba", "architectures": ["SambaForCausalLM"], "hidden_size": \(d), "num_hidden_layers": 2,
             "vocab_size": \(v), "state_size": \(n), "conv_kernel": \(k), "expand": 2, "time_step_rank": \(r),
             "hidden_ratio": 4, "hidden_act": "swish", "norm_eps": 1e-05, "tie_word_embeddings": true,
             "use_bias": false, "use_conv_bias": true,
             "attn": {"layers": [1], "num_heads": 2, "num_kv_heads": 1, "qkv_bias": false, "rope_theta": 10000.0, "window_size": 8}}
            """
        try writeCheckpoint(dir, config: config, tensors: tensors, rng: &rng)
    }

    private static func writeCheckpoint(_ dir: URL, config: String, tensors: [(String, [Int])], rng: inout SplitMix64) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try config.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        var header: [String] = []
        var data: [UInt8] = []
        for (name, shape) in tensors {
            let count = shape.reduce(1, *)
            header.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(data.count),\(data.count + 4 * count)]}")
            for _ in 0..<count { data.appendLE(Float.random(in: -0.3...0.3, using: &rng).bitPattern) }
        }
        var json = Array(("{\"__metadata__\":{\"format\":\"pt\"}," + header.joined(separator: ",") + "}").utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var file: [UInt8] = []
        file.appendLE(UInt64(json.count))
        try Data(file + json + data).write(to: dir.appendingPathComponent("model.safetensors"))
    }

    /// A converted tiny model (`mamba`, `mamba-tok` with the small tokenizer, `transnormer`, `samba`),
    /// cached for the test process and removed at exit.
    static func rillPath(_ kind: String, _ quant: QuantType) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        let key = "\(kind)-\(quant)"
        if let p = cache[key] { return p }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rill-fuzz-\(getpid())-\(key)")
        defer { try? FileManager.default.removeItem(at: dir) }
        switch kind {
        case "mamba": try writeMambaCheckpoint(to: dir, withTokenizer: false)
        case "mamba-tok": try writeMambaCheckpoint(to: dir, withTokenizer: true)
        case "transnormer": try writeTransNormerCheckpoint(to: dir)
        case "samba": try writeSambaCheckpoint(to: dir)
        default: fatalError("unknown tiny model \(kind)")
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("rill-fuzz-\(getpid())-\(key).rill").path
        _ = try Converter.convert(
            directory: dir.path, output: out, options: ConvertOptions(quant: quant),
            tokenizerCheck: { bytes, _ in
                let t = try ByteLevelBPETokenizer(tokenizerJSON: bytes)
                return TokenizerInfo(format: "hf-tokenizer-json", model: "BPE", vocabSize: t.vocabSize)
            })
        if cache.isEmpty { atexit { FuzzFixtures.removeAll() } }
        cache[key] = out
        return out
    }

    static func removeAll() {
        for p in cache.values { unlink(p) }
    }

    /// A safetensors file with the fixture's tensor names and dtypes, each dimension cut to at
    /// most 3, offsets recomputed and zero data: the header of a real checkpoint at a few KB.
    static func shrunkSafetensors(_ relative: String) throws -> [UInt8] {
        let bytes = try fixtureBytes(relative)
        let n = Int(bytes.u64(at: 0))
        let header = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)])) as! [String: Any]
        var entries: [String] = []
        var offset = 0
        for name in header.keys.sorted() {
            if name == "__metadata__" {
                let meta = try JSONSerialization.data(withJSONObject: header[name]!)
                entries.append("\"__metadata__\":" + String(decoding: meta, as: UTF8.self))
                continue
            }
            let e = header[name] as! [String: Any]
            let dtype = e["dtype"] as! String
            let shape = (e["shape"] as! [Int]).map { min($0, 3) }
            let size = ["F32": 4, "I32": 4, "F16": 2, "BF16": 2, "I64": 8][dtype]!
            let len = shape.reduce(1, *) * size
            entries.append("\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + len)]}")
            offset += len
        }
        let json = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        var out: [UInt8] = []
        out.appendLE(UInt64(json.count))
        var rng = SplitMix64(seed: UInt64(offset))
        return out + json + (0..<offset).map { _ in UInt8(truncatingIfNeeded: rng.next() & 0x3F) }
    }
}
