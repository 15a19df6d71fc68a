import Foundation
import RillConvert
import RillFormat
import XCTest

/// The reading rules of `Formats/rill.md` §4.3, one row per edge value: what Python loads and
/// runs is accepted as the reference reads it; what it would refuse or misread is an error
/// naming the file and the key as written.
final class ConfigEdgeValueTests: XCTestCase {
    enum Outcome {
        /// The `.rill` config key holds this value.
        case value(String, ConfigValue)
        /// An `invalidField` error naming this key.
        case error(String)
    }

    struct Row {
        let why: String
        let json: String
        let outcome: Outcome
    }

    static let mamba = #""model_type": "mamba", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100"#
    static let tnl = #""model_type": "transnormer", "decoder_embed_dim": 64, "hidden_dim": 64, "decoder_layers": 2, "decoder_attention_heads": 4, "linear_use_lrpe": 0"#
    static let samba = #""model_type": "samba", "hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 100"#

    static let subllm = #""model_type": "subllm", "decoder_embed_dim": 64, "decoder_layers": 3, "decoder_attention_heads": 4, "num_embeddings": 100, "structure": "T(T)T""#
    static let llama = #""model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100"#

    static let rows: [Row] = [
        // Flags are tested for truth.
        Row(why: "flag true", json: mamba + #", "use_bias": true"#, outcome: .value("use_bias", .bool(true))),
        Row(why: "flag 1", json: mamba + #", "use_bias": 1"#, outcome: .value("use_bias", .bool(true))),
        Row(why: "flag 0", json: mamba + #", "use_conv_bias": 0"#, outcome: .value("use_conv_bias", .bool(false))),
        Row(why: "flag null is false", json: mamba + #", "use_conv_bias": null"#, outcome: .value("use_conv_bias", .bool(false))),
        Row(why: "flag 2 is true to Python", json: tnl + #", "no_scale_embedding": 2"#, outcome: .value("no_scale_embedding", .bool(true))),
        Row(why: "flag 1 (the issue's checkpoint)", json: tnl + #", "no_scale_embedding": 1"#, outcome: .value("no_scale_embedding", .bool(true))),
        Row(why: "a string flag would be misread", json: mamba + #", "use_bias": "false""#, outcome: .error("use_bias")),
        Row(why: "a list is no flag", json: mamba + #", "use_bias": [1]"#, outcome: .error("use_bias")),
        Row(why: "LRPE list of 0/1", json: tnl + #", "linear_use_lrpe_list": [1, 0]"#, outcome: .value("lrpe_layers", .list([.bool(true), .bool(false)]))),
        Row(why: "LRPE list of booleans", json: tnl + #", "linear_use_lrpe_list": [false, true]"#, outcome: .value("lrpe_layers", .list([.bool(false), .bool(true)]))),
        Row(why: "LRPE list longer than the layers is cut", json: tnl + #", "linear_use_lrpe_list": [1, 1, 0]"#, outcome: .value("lrpe_layers", .list([.bool(true), .bool(true)]))),
        Row(why: "LRPE list shorter than the layers", json: tnl + #", "linear_use_lrpe_list": [1]"#, outcome: .error("linear_use_lrpe_list")),
        Row(why: "LRPE list entry a string", json: tnl + #", "linear_use_lrpe_list": ["1", 0]"#, outcome: .error("linear_use_lrpe_list[0]")),
        Row(why: "empty LRPE list and no flag", json: #""model_type": "transnormer", "decoder_embed_dim": 64, "hidden_dim": 64, "decoder_layers": 2"#, outcome: .error("linear_use_lrpe")),
        // Integers take integral numbers.
        Row(why: "integral float", json: mamba + #", "state_size": 8.0"#, outcome: .value("state_size", .number(8))),
        Row(why: "exponent form", json: mamba + #", "state_size": 1.6e1"#, outcome: .value("state_size", .number(16))),
        Row(why: "non-integral", json: mamba + #", "state_size": 8.5"#, outcome: .error("state_size")),
        Row(why: "string number", json: mamba + #", "state_size": "8""#, outcome: .error("state_size")),
        Row(why: "boolean for an integer", json: mamba + #", "conv_kernel": true"#, outcome: .error("conv_kernel")),
        Row(why: "null for an integer", json: mamba + #", "state_size": null"#, outcome: .error("state_size")),
        Row(why: "huge", json: mamba + #", "state_size": 1e300"#, outcome: .error("state_size")),
        Row(why: "negative size", json: #""model_type": "mamba", "hidden_size": -64"#, outcome: .error("hidden_size")),
        Row(why: "zero layers", json: #""model_type": "mamba", "num_hidden_layers": 0"#, outcome: .error("num_hidden_layers")),
        Row(why: "expand 2.0", json: mamba + #", "expand": 2.0"#, outcome: .value("intermediate_size", .number(128))),
        Row(why: "expand 1.5", json: mamba + #", "expand": 1.5"#, outcome: .error("expand")),
        Row(why: "intermediate_size set after expand wins", json: mamba + #", "expand": 2, "intermediate_size": 96"#, outcome: .value("intermediate_size", .number(96))),
        Row(why: "time_step_rank 4.0", json: mamba + #", "time_step_rank": 4.0"#, outcome: .value("time_step_rank", .number(4))),
        Row(why: "time_step_rank auto", json: mamba + #", "time_step_rank": "auto""#, outcome: .value("time_step_rank", .number(4))),
        Row(why: "time_step_rank another word", json: mamba + #", "time_step_rank": "half""#, outcome: .error("time_step_rank")),
        Row(why: "glu_dim -1 is the width", json: tnl + #", "glu_dim": -1"#, outcome: .value("glu_dim", .number(64))),
        Row(why: "glu_dim 0", json: tnl + #", "glu_dim": 0"#, outcome: .error("glu_dim")),
        // Missing keys take the reference class's defaults.
        Row(why: "Mamba default state size", json: mamba, outcome: .value("state_size", .number(16))),
        Row(why: "Mamba default width", json: #""model_type": "mamba""#, outcome: .value("hidden_size", .number(768))),
        Row(why: "Mamba default auto rank", json: #""model_type": "mamba""#, outcome: .value("time_step_rank", .number(48))),
        Row(why: "Mamba default ε", json: mamba, outcome: .value("layer_norm_epsilon", .number(1e-5))),
        Row(why: "TransNormer default glu", json: tnl, outcome: .value("glu_dim", .number(2816))),
        Row(why: "TransNormer default vocab", json: tnl, outcome: .value("vocab_size", .number(64000))),
        Row(why: "SAMBA default attention", json: #""model_type": "samba", "hidden_size": 72, "num_hidden_layers": 4"#, outcome: .value("attention_layers", .list([.number(1), .number(3)]))),
        Row(why: "SAMBA default window", json: #""model_type": "samba", "hidden_size": 72, "num_hidden_layers": 4"#, outcome: .value("window_size", .number(2048))),
        Row(why: "SAMBA default MLP", json: samba + #", "attn": null"#, outcome: .value("intermediate_size", .number(256))),
        Row(why: "SAMBA hidden_ratio null is 4", json: samba + #", "attn": null, "hidden_ratio": null"#, outcome: .value("intermediate_size", .number(256))),
        Row(why: "SAMBA attn null: all Mamba", json: samba + #", "attn": null"#, outcome: .value("attention_layers", .list([]))),
        Row(why: "SAMBA intermediate_size in the file wins", json: samba + #", "attn": null, "intermediate_size": 96"#, outcome: .value("mamba_inner_size", .number(96))),
        Row(why: "SAMBA use_conv_bias is not read by fla", json: samba + #", "attn": null, "use_conv_bias": false"#, outcome: .value("use_conv_bias", .bool(true))),
        Row(why: "SAMBA kv heads null", json: samba + #", "attn": {"layers": [1], "num_heads": 4, "num_kv_heads": null, "window_size": 8}"#, outcome: .value("num_kv_heads", .number(4))),
        Row(why: "SAMBA window 0", json: samba + #", "attn": {"layers": [1], "num_heads": 4, "window_size": 0}"#, outcome: .error("attn.window_size")),
        Row(why: "SAMBA window null (full attention)", json: samba + #", "attn": {"layers": [1], "num_heads": 4, "window_size": null}"#, outcome: .error("attn.window_size")),
        Row(why: "SAMBA heads not dividing the width", json: samba + #", "attn": {"layers": [1], "num_heads": 5, "window_size": 8}"#, outcome: .error("attn.num_heads")),
        Row(why: "SAMBA layer out of range", json: samba + #", "attn": {"layers": [2], "num_heads": 4, "window_size": 8}"#, outcome: .error("attn.layers[0]")),
        Row(why: "SAMBA layer twice", json: samba + #", "attn": [{"layers": [1], "num_heads": 4, "window_size": 8}, {"layers": [1], "num_heads": 4, "window_size": 8}]"#, outcome: .error("attn[1].layers[0]")),
        Row(why: "SAMBA specs that differ", json: #""model_type": "samba", "hidden_size": 64, "num_hidden_layers": 3, "attn": [{"layers": [0], "num_heads": 4, "window_size": 8}, {"layers": [2], "num_heads": 2, "window_size": 8}]"#, outcome: .error("attn[1]")),
        Row(why: "SAMBA powlu MLP", json: samba + #", "attn": null, "hidden_act": "powlu""#, outcome: .error("hidden_act")),
        Row(why: "TransNormer heads not dividing the width", json: tnl.replacingOccurrences(of: #""decoder_attention_heads": 4"#, with: #""decoder_attention_heads": 3"#), outcome: .error("decoder_attention_heads")),
        Row(why: "TransNormer one layer", json: tnl.replacingOccurrences(of: #""decoder_layers": 2"#, with: #""decoder_layers": 1"#), outcome: .error("decoder_layers")),
        Row(why: "TransNormer other norm", json: tnl + #", "norm_type": "layernorm""#, outcome: .error("norm_type")),
        Row(why: "TransNormer bias 1", json: tnl + #", "bias": 1"#, outcome: .error("bias")),
        Row(why: "TransNormer bias 0", json: tnl + #", "bias": 0"#, outcome: .value("embed_dim", .number(64))),
        Row(why: "Mamba other activation", json: mamba + #", "hidden_act": "gelu""#, outcome: .error("hidden_act")),
        Row(why: "Mamba swish is SiLU", json: mamba + #", "hidden_act": "swish""#, outcome: .value("hidden_size", .number(64))),
        Row(why: "ε zero", json: mamba + #", "layer_norm_epsilon": 0"#, outcome: .error("layer_norm_epsilon")),
        Row(why: "ε NaN (Python's json writes NaN)", json: mamba + #", "layer_norm_epsilon": NaN"#, outcome: .error("layer_norm_epsilon")),
        Row(why: "NaN in a key nothing reads", json: mamba + #", "time_step_max": NaN"#, outcome: .value("hidden_size", .number(64))),
        // SUBLLM: attribute_map aliases, the class's and the decoder's defaults.
        Row(why: "SUBLLM alias hidden_size", json: #""model_type": "subllm", "hidden_size": 96, "n_layer": 2, "n_head": 3, "structure": "TT""#, outcome: .value("hidden_size", .number(96))),
        Row(why: "SUBLLM alias n_layer", json: #""model_type": "subllm", "hidden_size": 96, "n_layer": 2, "n_head": 3, "structure": "TT""#, outcome: .value("num_layers", .number(2))),
        Row(why: "SUBLLM alias vocab_size", json: subllm.replacingOccurrences(of: #""num_embeddings": 100"#, with: #""vocab_size": 70"#), outcome: .value("vocab_size", .number(70))),
        Row(why: "SUBLLM both names agreeing", json: subllm + #", "hidden_size": 64"#, outcome: .value("hidden_size", .number(64))),
        Row(why: "SUBLLM both names disagreeing", json: subllm + #", "hidden_size": 96"#, outcome: .error("hidden_size")),
        Row(why: "SUBLLM qk_bias defaults true", json: subllm, outcome: .value("qk_bias", .bool(true))),
        Row(why: "SUBLLM bias adds v and out", json: subllm + #", "bias": 1"#, outcome: .value("vo_bias", .bool(true))),
        Row(why: "SUBLLM tie_weights defaults true", json: subllm, outcome: .value("tie_word_embeddings", .bool(true))),
        Row(why: "SUBLLM scale_token_embedding is read by nothing", json: subllm + #", "scale_token_embedding": true"#, outcome: .value("embedding_scale", .number(1))),
        Row(why: "SUBLLM no_scale_embedding false scales", json: subllm + #", "no_scale_embedding": 0"#, outcome: .value("embedding_scale", .number(8))),
        Row(why: "SUBLLM keep rate string", json: subllm + #", "downsampling_factor_denominator": "0.64""#, outcome: .value("keep_rate", .number(0.64))),
        Row(why: "SUBLLM saved downsampling_factor wins", json: subllm + #", "downsampling_factor_denominator": "0.64", "downsampling_factor": [4.0]"#, outcome: .value("keep_rate", .number(0.25))),
        Row(why: "SUBLLM keep rate ≥ 1", json: subllm + #", "downsampling_factor_denominator": "1.5""#, outcome: .error("downsampling_factor_denominator")),
        Row(why: "SUBLLM structure missing", json: #""model_type": "subllm", "decoder_layers": 2"#, outcome: .error("structure")),
        Row(why: "SUBLLM structure with other blocks", json: subllm.replacingOccurrences(of: "T(T)T", with: "TT"), outcome: .error("structure")),
        Row(why: "SUBLLM structure unbalanced", json: subllm.replacingOccurrences(of: "T(T)T", with: "T(TT"), outcome: .error("structure")),
        Row(why: "SUBLLM structure character", json: subllm.replacingOccurrences(of: "T(T)T", with: "T[T]T"), outcome: .error("structure")),
        Row(why: "SUBLLM layernorm blocks", json: subllm + #", "norm_name": "layernorm""#, outcome: .error("norm_name")),
        Row(why: "SUBLLM unknown attention", json: subllm + #", "attn_type": "scaled""#, outcome: .error("attn_type")),
        Row(why: "SUBLLM heads not dividing", json: subllm.replacingOccurrences(of: #""decoder_attention_heads": 4"#, with: #""decoder_attention_heads": 5"#), outcome: .error("decoder_attention_heads")),
        // LLaMA.
        Row(why: "LLaMA kv heads null", json: llama + #", "num_key_value_heads": null"#, outcome: .value("num_kv_heads", .number(4))),
        Row(why: "LLaMA kv heads not dividing", json: llama + #", "num_key_value_heads": 3"#, outcome: .error("num_key_value_heads")),
        Row(why: "LLaMA head_dim null", json: llama + #", "head_dim": null"#, outcome: .value("head_dim", .number(16))),
        Row(why: "LLaMA explicit head_dim", json: llama + #", "head_dim": 24"#, outcome: .value("head_dim", .number(24))),
        Row(why: "LLaMA legacy rope_theta", json: llama + #", "rope_theta": 500000"#, outcome: .value("rope_theta", .number(500000))),
        Row(why: "LLaMA rope_parameters theta", json: llama + #", "rope_parameters": {"rope_type": "default", "rope_theta": 1e6}"#, outcome: .value("rope_theta", .number(1e6))),
        Row(why: "LLaMA legacy linear scaling", json: llama + #", "rope_scaling": {"type": "linear", "factor": 2.0}"#, outcome: .value("rope_scaling", .string("linear 2.0"))),
        Row(why: "LLaMA yarn", json: llama + #", "rope_scaling": {"rope_type": "yarn", "factor": 4.0}"#, outcome: .error("rope_scaling.rope_type")),
        Row(why: "LLaMA llama3 without its factors", json: llama + #", "rope_parameters": {"rope_type": "llama3", "factor": 8.0}"#, outcome: .error("rope_parameters.low_freq_factor")),
        Row(why: "LLaMA MLP biases", json: llama + #", "mlp_bias": true"#, outcome: .error("mlp_bias")),
        Row(why: "LLaMA attention biases", json: llama + #", "attention_bias": 1"#, outcome: .value("vo_bias", .bool(true))),
        Row(why: "LLaMA gelu", json: llama + #", "hidden_act": "gelu""#, outcome: .error("hidden_act")),
        // Which model, and the keys around it.
        Row(why: "no architectures, known model_type", json: mamba + #", "architectures": null"#, outcome: .value("hidden_size", .number(64))),
        Row(why: "architectures only", json: #""architectures": ["MambaForCausalLM"], "hidden_size": 32"#, outcome: .value("hidden_size", .number(32))),
        Row(why: "architectures against model_type", json: mamba + #", "architectures": ["SambaForCausalLM"]"#, outcome: .error("architectures")),
        Row(why: "a pre-quantised checkpoint", json: mamba + #", "quantization_config": {"quant_method": "gptq"}"#, outcome: .error("quantization_config")),
        Row(why: "eos as a list", json: mamba + #", "eos_token_id": [7, 9]"#, outcome: .value("hidden_size", .number(64))),
        Row(why: "negative eos", json: mamba + #", "eos_token_id": -1"#, outcome: .error("eos_token_id")),
    ]

    func testEdgeValuesAreReadAsTheReferenceReadsThem() {
        for row in Self.rows {
            let json = "{" + row.json + "}"
            let result = Result { () throws(RillFileError) -> CheckpointConfig in
                try HFConfigDecoder.decode(data: Data(json.utf8), path: "config.json")
            }
            switch (row.outcome, result) {
            case let (.value(key, want), .success(c)):
                guard let got = try? hyperParameters(c.config)[key] else {
                    XCTFail("\(row.why): no key \(key)")
                    continue
                }
                XCTAssert(got.matches(want), "\(row.why): \(key) = \(got), expected \(want)")
            case let (.value(key, want), .failure(e)):
                XCTFail("\(row.why): expected \(key) = \(want), got the error \(e)")
            case let (.error(field), .success(c)):
                XCTFail("\(row.why): expected an error naming \(field), decoded \(c.config)")
            case let (.error(field), .failure(e)):
                guard case let .invalidField(path, f, _, _) = e else {
                    XCTFail("\(row.why): expected invalidField naming \(field), got \(e)")
                    continue
                }
                XCTAssertEqual(path, "config.json", row.why)
                XCTAssertEqual(f, field, "\(row.why): \(e)")
            }
        }
    }

    func testSourcesSayFileDefaultOrDerived() throws {
        let c = try HFConfigDecoder.decode(data: Data("{\(Self.mamba)}".utf8), path: "config.json")
        XCTAssertEqual(c.sources["hidden_size"], ConfigSource(.file, "hidden_size"))
        XCTAssertEqual(c.sources["num_layers"], ConfigSource(.file, "num_hidden_layers"))
        XCTAssertEqual(c.sources["state_size"], ConfigSource(.default, "state_size"))
        XCTAssertEqual(c.sources["intermediate_size"]?.origin, .derived)
        XCTAssertEqual(c.sources["time_step_rank"]?.origin, .derived)
        let s = try HFConfigDecoder.decode(data: Data("{\(Self.samba), \"attn\": {\"layers\": [1], \"num_heads\": 4, \"window_size\": 8}}".utf8), path: "config.json")
        XCTAssertEqual(s.sources["window_size"], ConfigSource(.file, "attn.window_size"))
        XCTAssertEqual(s.sources["num_kv_heads"], ConfigSource(.default, "attn.num_kv_heads"))
    }

    func testUnknownKeysAreListedAndInertOnesAreNot() throws {
        let json = "{\(Self.mamba), \"time_step_min\": 0.001, \"use_cache\": true, \"my_extra\": 3, \"torch_dtype\": \"bfloat16\"}"
        let c = try HFConfigDecoder.decode(data: Data(json.utf8), path: "config.json")
        XCTAssertEqual(c.unknownKeys, ["my_extra"])
        XCTAssert(c.inertKeys.contains("time_step_min") && c.inertKeys.contains("use_cache"), "\(c.inertKeys)")
        XCTAssertEqual(c.sourceDType, "bfloat16")
        let both = try HFConfigDecoder.decode(data: Data("{\(Self.mamba), \"torch_dtype\": \"bfloat16\", \"dtype\": \"float16\"}".utf8), path: "config.json")
        XCTAssertEqual(both.sourceDType, "float16", "dtype wins over torch_dtype, as in transformers 5")
        let nested = try HFConfigDecoder.decode(
            data: Data("{\(Self.samba), \"attn\": {\"layers\": [1], \"num_heads\": 4, \"window_size\": 8, \"qk_norm\": true}}".utf8), path: "config.json")
        XCTAssertEqual(nested.unknownKeys, ["attn.qk_norm"])
    }

    func testTieRuleFollowsTheReference() throws {
        func rule(_ json: String) throws -> TieRule { try HFConfigDecoder.decode(data: Data("{\(json)}".utf8), path: "config.json").tie }
        XCTAssertEqual(try rule(Self.mamba), .flag(true), "MambaConfig ties by default")
        XCTAssertEqual(try rule(Self.mamba + #", "tie_word_embeddings": 0"#), .flag(false))
        XCTAssertEqual(try rule(Self.samba + #", "attn": null"#), .flag(false), "SambaConfig passes False explicitly")
        XCTAssertEqual(try rule(Self.tnl), .unsetTiedWhenHeadAbsent, "TransnormerConfig leaves it unset")
        XCTAssertEqual(try rule(Self.tnl + #", "tie_word_embeddings": 1"#), .flag(true))
    }
}
