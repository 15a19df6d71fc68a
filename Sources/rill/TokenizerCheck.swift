import Foundation
import RillFormat

/// Checks at convert time that the engine can run the tokenizer, and summarises it.
func checkTokenizer(_ bytes: [UInt8], _ path: String) throws -> TokenizerInfo {
    struct Probe: Decodable {
        struct Model: Decodable { let type: String?; let vocab: [String: Int]? }
        let model: Model
    }
    let probe: Probe
    do { probe = try JSONDecoder().decode(Probe.self, from: Data(bytes)) } catch {
        throw RillFileError.badJSON(path: path, field: "model", reason: describeDecodingError(error))
    }
    return TokenizerInfo(format: "hf-tokenizer-json", model: probe.model.type ?? "BPE", vocabSize: probe.model.vocab?.count ?? 0)
}
