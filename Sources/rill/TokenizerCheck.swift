import Foundation
import RillFormat
import RillTokenizer

/// Checks at convert time that the engine can run the tokenizer (so an unsupported one fails
/// here, not on the board), and summarises it for the metadata.
func checkTokenizer(_ bytes: [UInt8], _ path: String) throws -> TokenizerInfo {
    do {
        let tok = try ByteLevelBPETokenizer(tokenizerJSON: bytes)
        return TokenizerInfo(format: "hf-tokenizer-json", model: "BPE (byte-level)", vocabSize: tok.vocabSize)
    } catch {
        throw RillFileError.invalidField(path: path, field: "tokenizer", expected: "a tokenizer rill supports", found: error.description)
    }
}
