import ArgumentParser
import Foundation
import RillRuntime
import RillTokenizer

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode text to token ids, or decode ids to text, with a .rill file's tokenizer.",
        discussion: """
            For checking a conversion against the Hugging Face tokenizer:
              rill tokenize model.rill --text "Hello, world"     (prints 1,15043,29892,3186)
              rill tokenize model.rill --text "Hello" --pieces   (one id and piece per line)
              rill tokenize model.rill --decode 15043,29892
            The BOS token is added when the checkpoint says so (add_bos_token); --no-bos \
            leaves it out. In Python: tokenizer(text).input_ids.
            """)

    @OptionGroup var model: ModelPath

    @Option(help: "Text to encode.")
    var text: String?

    @Option(help: "Read the text to encode from a file.", completion: .file())
    var file: String?

    @Option(help: "Comma-separated token ids to decode, e.g. 1,2,3.")
    var decode: String?

    @Flag(name: .customLong("no-bos"), help: "Do not add the BOS token, whatever the checkpoint says.")
    var noBOS = false

    @Flag(help: "Print one 'id<TAB>piece' line per token instead of the comma-separated ids.")
    var pieces = false

    @Flag(name: .customLong("skip-special"), help: "When decoding, leave special tokens out.")
    var skipSpecial = false

    func validate() throws {
        if [text != nil, file != nil, decode != nil].filter({ $0 }).count != 1 {
            throw ValidationError("give exactly one of --text, --file, --decode")
        }
    }

    func run() throws {
        let m = try Model(path: model.path)
        guard let tok = m.tokenizer else { throw SessionError.noTokenizer(path: model.path) }
        if let decode {
            let ids = try parseIDs(decode)
            for id in ids where Int(id) >= tok.vocabSize {
                throw ValidationError("token id \(id) is outside the tokenizer's vocabulary (\(tok.vocabSize) ids)")
            }
            Terminal.out(tok.decode(ids, skippingSpecialTokens: skipSpecial) + "\n")
            return
        }
        let input: String
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("\(file): cannot read the file")
            }
            input = String(decoding: data, as: UTF8.self)
        } else {
            input = text!
        }
        let ids = try m.encode(input, atStart: !noBOS)
        if pieces {
            for id in ids { Terminal.out("\(id)\t\(tok.token(forID: id) ?? "?")\n") }
        } else {
            Terminal.out(ids.map(String.init).joined(separator: ",") + "\n")
        }
        FileHandle.standardError.write("\(ids.count) tokens\n".data(using: .utf8)!)
    }
}
