import Foundation
import RillFormat
import RillTokenizer

/// Checks at convert time that the engine can run the tokenizer (so an unsupported one fails
/// here, not on the board), and summarises it for the metadata.
func checkTokenizer(_ bytes: [UInt8], _ path: String) throws -> TokenizerInfo {
    guard let format = TokenizerFormat(fileName: path) else {
        throw RillFileError.invalidField(path: path, field: "tokenizer", expected: "tokenizer.json or tokenizer.model", found: path)
    }
    do {
        let tok = try loadTokenizer(format: format.rawValue, bytes: bytes)
        return TokenizerInfo(format: format.rawValue, model: tokenizerModelName(tok), vocabSize: tok.vocabSize)
    } catch {
        throw RillFileError.invalidField(path: path, field: "tokenizer", expected: "a tokenizer rill supports", found: error.description)
    }
}
