import Foundation
import RillConvert
import RillFormat
import XCTest

/// The chat template is found where transformers finds it and stored in the metadata (2.3).
final class ConverterChatTemplateTests: XCTestCase {
    var checkpoint = ""
    var out = ""

    override func setUpWithError() throws {
        let dir = try makeTemporaryDirectory()
        checkpoint = dir.appendingPathComponent("ckpt").path
        out = dir.appendingPathComponent("model.rill").path
        try TinyMamba.write(to: checkpoint)
    }

    func convert() throws -> ConvertSummary {
        try Converter.convert(directory: checkpoint, output: out, options: ConvertOptions(quant: .int8), tokenizerCheck: fixtureTokenizerCheck)
    }

    func write(_ text: String, _ name: String) throws {
        try writeBytes(Array(text.utf8), to: checkpoint + "/" + name)
    }

    func testNoTemplateKeepsTheEarlierMinorVersion() throws {
        _ = try convert()
        let file = try RillFile(path: out)
        XCTAssertNil(file.metadata.tokenizer?.chatTemplate)
        XCTAssertEqual(file.header.minor, 1)
    }

    func testTemplateStringInTokenizerConfig() throws {
        try write(#"{"chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}"#, "tokenizer_config.json")
        let summary = try convert()
        XCTAssertEqual(summary.warnings, [])
        let file = try RillFile(path: out)
        XCTAssertEqual(file.metadata.tokenizer?.chatTemplate, "{% for m in messages %}{{ m['content'] }}{% endfor %}")
        XCTAssertEqual(file.header.minor, 3)
    }

    /// transformers' list form: the template named `default` is the one used.
    func testTemplateListTakesTheDefault() throws {
        try write(#"{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}"#, "tokenizer_config.json")
        _ = try convert()
        XCTAssertEqual(try RillFile(path: out).metadata.tokenizer?.chatTemplate, "D")
    }

    /// `chat_template.jinja` (save_pretrained since transformers 4.47) wins over the JSON field.
    func testJinjaFileWinsOverTokenizerConfig() throws {
        try write(#"{"chat_template": "old"}"#, "tokenizer_config.json")
        try write("{{ messages[0]['content'] }}\n", "chat_template.jinja")
        _ = try convert()
        XCTAssertEqual(try RillFile(path: out).metadata.tokenizer?.chatTemplate, "{{ messages[0]['content'] }}\n")
    }

    func testTemplateOfAnotherShapeIsAnErrorNamingTheField() throws {
        try write(#"{"chat_template": 42}"#, "tokenizer_config.json")
        XCTAssertThrowsError(try convert()) { error in
            XCTAssert("\(error)".contains("tokenizer_config.json"), "\(error)")
            XCTAssert("\(error)".contains("chat_template"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        try write(#"{"chat_template": [{"name": "tool_use", "template": "T"}]}"#, "tokenizer_config.json")
        XCTAssertThrowsError(try convert())
    }

    /// A template outside the subset is stored with a warning: `--chat-template` can replace it.
    func testTemplateOutsideTheSubsetIsStoredWithAWarning() throws {
        try write(#"{"chat_template": "{% include 'other.jinja' %}"}"#, "tokenizer_config.json")
        let summary = try convert()
        XCTAssertEqual(summary.warnings.count, 1)
        XCTAssert(summary.warnings.first?.contains("--chat-template") ?? false)
        XCTAssertEqual(try RillFile(path: out).metadata.tokenizer?.chatTemplate, "{% include 'other.jinja' %}")
    }
}
