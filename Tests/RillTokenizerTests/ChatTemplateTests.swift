import Foundation
import XCTest
@testable import RillTokenizer

/// `Tests/Fixtures/chat_templates`: real checkpoints' chat templates and what jinja2, set up as
/// transformers sets it up, renders from them (`Tools/chat_template_fixtures.py`).
enum ChatTemplateFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/chat_templates")

    static func template(_ family: String) throws -> String {
        String(decoding: try Data(contentsOf: directory.appendingPathComponent("\(family).jinja")), as: UTF8.self)
    }

    /// goldens.json, parsed keeping key order (tojson and `.items()` show it).
    static let goldens: ChatTemplateValue = {
        try! ChatTemplateValue(json: Data(contentsOf: directory.appendingPathComponent("goldens.json")))
    }()

    /// The fixed time the generator gives `strftime_now`: 2024-07-26 09:05:03, local time.
    static let now: Date = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone.current
        return calendar.date(from: DateComponents(year: 2024, month: 7, day: 26, hour: 9, minute: 5, second: 3))!
    }()
}

extension ChatTemplateValue {
    subscript(key: String) -> ChatTemplateValue? {
        guard case let .object(members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    var string: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    var array: [ChatTemplateValue] {
        if case let .array(a) = self { return a }
        return []
    }

    var members: [(key: String, value: ChatTemplateValue)] {
        if case let .object(m) = self { return m }
        return []
    }
}

final class ChatTemplateTests: XCTestCase {
    /// Byte equality (Swift's String == would equate canonically equivalent texts).
    private func assertSameBytes(_ got: String, _ expected: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        if !got.utf8.elementsEqual(expected.utf8) {
            XCTFail("\(message)\n got: \(got.debugDescription)\nwant: \(expected.debugDescription)", file: file, line: line)
        }
    }

    private func render(_ source: String, _ messages: [ChatMessage] = [], addGenerationPrompt: Bool = false,
                        extra: [String: ChatTemplateValue] = [:], limits: ChatTemplate.Limits = .init()) throws(ChatTemplateError) -> String {
        try ChatTemplate(source: source, limits: limits).render(messages: messages, addGenerationPrompt: addGenerationPrompt,
                                                bosToken: "<s>", eosToken: "</s>", extra: extra, now: ChatTemplateFixtures.now)
    }

    /// The error `body` throws, or a failure.
    /// Closures infer `any Error`, so the typed error is recovered here; any other error fails.
    private func error(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> ChatTemplateError? {
        do {
            try body()
            XCTFail("expected a ChatTemplateError", file: file, line: line)
            return nil
        } catch let e as ChatTemplateError {
            return e
        } catch {
            XCTFail("expected a ChatTemplateError, got \(error)", file: file, line: line)
            return nil
        }
    }

    private func messages(_ conversation: ChatTemplateValue) -> [ChatMessage] {
        conversation.array.map { ChatMessage(role: $0["role"]!.string!, content: $0["content"]!.string!) }
    }

    private func extra(_ value: ChatTemplateValue?) -> [String: ChatTemplateValue] {
        var out: [String: ChatTemplateValue] = [:]
        for (k, v) in value?.members ?? [] { out[k] = v }
        return out
    }

    // MARK: Goldens

    /// Every family's template on every conversation, with and without the generation prompt,
    /// renders byte for byte what jinja2 renders, and fails wherever jinja2 fails
    /// (`raise_exception` with the same message).
    func testEveryFamilyMatchesJinja2() throws {
        let goldens = ChatTemplateFixtures.goldens
        let conversations = goldens["conversations"]!
        var templates: [String: ChatTemplate] = [:]
        var failuresByFamily: [String: Int] = [:]
        var casesByFamily: [String: Int] = [:]
        for family in goldens["families"]!.members {
            templates[family.key] = try ChatTemplate(source: try ChatTemplateFixtures.template(family.key))
        }
        for c in goldens["cases"]!.array {
            let family = c["family"]!.string!
            let conversationName = c["conversation"]!.string!
            let tokens = goldens["families"]![family]!
            let agp = c["add_generation_prompt"]! == .bool(true)
            let label = "\(family) / \(conversationName) / add_generation_prompt=\(agp) / extra \(c["extra"]!.members.map(\.key))"
            casesByFamily[family, default: 0] += 1
            let failuresBefore = testRun?.failureCount ?? 0
            let result = Result { () throws(ChatTemplateError) -> String in
                try templates[family]!.render(messages: messages(conversations[conversationName]!), addGenerationPrompt: agp,
                                              bosToken: tokens["bos_token"]!.string!, eosToken: tokens["eos_token"]!.string!,
                                              extra: extra(c["extra"]), now: ChatTemplateFixtures.now)
            }
            if let expected = c["output"]?.string {
                switch result {
                case let .success(text): assertSameBytes(text, expected, label)
                case let .failure(e): XCTFail("\(label): \(e)")
                }
            } else {
                let kind = c["error"]!["kind"]!.string!
                let message = c["error"]!["message"]!.string!
                switch result {
                case let .success(text):
                    XCTFail("\(label): rendered \(text.debugDescription) where jinja2 raised \(kind): \(message)")
                case let .failure(e):
                    if kind == "raise_exception" {
                        guard case let .raised(_, got) = e else {
                            XCTFail("\(label): \(e), expected raise_exception(\(message.debugDescription))")
                            break
                        }
                        XCTAssertEqual(got, message, label)
                    } else {
                        guard case let .runtime(_, gotKind, _) = e else {
                            XCTFail("\(label): \(e), expected a runtime \(kind)")
                            break
                        }
                        XCTAssertEqual(gotKind, kind, label)
                    }
                }
            }
            if (testRun?.failureCount ?? 0) > failuresBefore { failuresByFamily[family, default: 0] += 1 }
        }
        XCTAssertEqual(casesByFamily.count, 22, "families")
        XCTAssertTrue(failuresByFamily.isEmpty, "failing cases per family: \(failuresByFamily.sorted { $0.key < $1.key })")
    }

    /// Small templates, one behaviour each, over the Jinja subset: same output as jinja2, or an
    /// error of the matching kind where jinja2 raises.
    func testSubsetMatchesJinja2() throws {
        for c in ChatTemplateFixtures.goldens["expressions"]!.array {
            let name = c["name"]!.string!
            let source = c["template"]!.string!
            let result = Result { () throws(ChatTemplateError) -> String in
                try render(source, extra: extra(c["variables"]))
            }
            if let expected = c["output"]?.string {
                switch result {
                case let .success(text): assertSameBytes(text, expected, name)
                case let .failure(e): XCTFail("\(name): \(e)")
                }
                continue
            }
            let kind = c["error"]!["kind"]!.string!
            let message = c["error"]!["message"]!.string!
            guard case let .failure(e) = result else {
                XCTFail("\(name): rendered \(try! result.get().debugDescription) where jinja2 raised \(kind): \(message)")
                continue
            }
            switch (kind, e) {
            case let ("raise_exception", .raised(_, got)):
                XCTAssertEqual(got, message, name)
            case ("TemplateSyntaxError", .syntax), ("TemplateSyntaxError", .unclosedBlock):
                break
            case ("TemplateAssertionError", .unknownFilter), ("TemplateAssertionError", .unknownTest),
                 ("TemplateRuntimeError", .unknownFilter), ("TemplateRuntimeError", .unknownTest):
                break
            case let (_, .runtime(_, gotKind, _)):
                XCTAssertEqual(gotKind, kind, "\(name): \(e)")
            default:
                XCTFail("\(name): \(e), where jinja2 raised \(kind): \(message)")
            }
        }
    }

    // MARK: Errors

    /// A template refusing a conversation: the error carries the template's own message and
    /// the place of the raise_exception call (its name, 1:110; `(` is at 1:125).
    func testRaiseExceptionCarriesTheTemplatesMessage() throws {
        let template = try ChatTemplate(source: try ChatTemplateFixtures.template("mixtral-v0.1"))
        let e = error {
            _ = try template.render(messages: [ChatMessage(role: "user", content: "a"), ChatMessage(role: "user", content: "b")],
                                    addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>")
        }
        XCTAssertEqual(e, .raised(location: SourceLocation(line: 1, column: 110),
                                  message: "Conversation roles must alternate user/assistant/user/assistant/..."))
        XCTAssertEqual(e?.description,
                       "chat template 1:110: raise_exception: Conversation roles must alternate user/assistant/user/assistant/...")
    }

    /// Syntax errors name line:column, what was expected and what was found; the place is the
    /// token found (columns counted in the comments), or what was left open.
    func testSyntaxErrorNamesLineColumnAndExpectation() {
        // `}}` at 2:10 (two spaces, `{{ 1 + ` before it).
        XCTAssertEqual(error { _ = try render("line one\n  {{ 1 + }}") },
                       .syntax(location: SourceLocation(line: 2, column: 10), expected: "an expression", found: "end of print statement '}}'"))
        // `{% if x %}` is columns 1–10, `a` 11, `{% elif ` 12–19: the `%}` found is at 20.
        XCTAssertEqual(error { _ = try render("{% if x %}a{% elif %}b{% endif %}") },
                       .syntax(location: SourceLocation(line: 1, column: 20), expected: "an expression", found: "end of statement block '%}'"))
        // `]` at 7; the string never closed at 2:4; the tag name at 4.
        XCTAssertEqual(error { _ = try render("{{ (1 ]] }}") },
                       .syntax(location: SourceLocation(line: 1, column: 7), expected: "')'", found: "']'"))
        XCTAssertEqual(error { _ = try render("ok\n{{ 'never closed }}") },
                       .syntax(location: SourceLocation(line: 2, column: 4), expected: "a token", found: "unexpected character '''"))
        XCTAssertEqual(error { _ = try render("{% frobnicate %}") },
                       .syntax(location: SourceLocation(line: 1, column: 4),
                               expected: "a statement tag (for, if, set, macro, filter, with, break, continue, generation, print)",
                               found: "unknown tag 'frobnicate'"))
        // `{% for x in y %}` is 16 columns, `{% ` 17–19: `endif` at 20.
        XCTAssertEqual(error { _ = try render("{% for x in y %}{% endif %}{% endfor %}") },
                       .syntax(location: SourceLocation(line: 1, column: 20), expected: "'endfor' or 'else'", found: "unknown tag 'endif'"))
        // Left open: at the `{#` that opened it.
        XCTAssertEqual(error { _ = try render("{# no end") },
                       .syntax(location: SourceLocation(line: 1, column: 1), expected: "end of comment '#}'", found: "end of template"))
        XCTAssertEqual(error { _ = try render("{% break %}") }?.location, SourceLocation(line: 1, column: 4))
    }

    /// A block or tag never closed names the block, the `{%` or `{{` that opened it, and the
    /// end tags it needed.
    func testUnclosedBlockNamesItsOpeningTag() {
        XCTAssertEqual(error { _ = try render("a\n  {% for m in messages %}\n{{ m }}") },
                       .unclosedBlock(location: SourceLocation(line: 2, column: 3), block: "for", expected: "'endfor' or 'else'"))
        XCTAssertEqual(error { _ = try render("{% if a %}{% for x in y %}{% endfor %}") },
                       .unclosedBlock(location: SourceLocation(line: 1, column: 1), block: "if", expected: "'elif', 'else' or 'endif'"))
        XCTAssertEqual(error { _ = try render("{{ 1") },
                       .syntax(location: SourceLocation(line: 1, column: 1), expected: "end of print statement '}}'", found: "end of template"))
        XCTAssertEqual(error { _ = try render("ab\n {% raw %}x") },
                       .syntax(location: SourceLocation(line: 2, column: 2), expected: "'{% endraw %}'", found: "end of template"))
    }

    /// An unknown filter fails at compile time, as in jinja2, unless it sits in an `if` that
    /// is not taken; a filter jinja2 has but Rill does not is `unsupported` when it runs.
    /// Each is reported at the filter's or test's name.
    func testUnknownFilterAndTest() {
        // `{{ 'a' | ` is columns 1–9 of line 2: `shout` at 10.
        XCTAssertEqual(error { _ = try ChatTemplate(source: "x\n{{ 'a' | shout }}") },
                       .unknownFilter(location: SourceLocation(line: 2, column: 10), name: "shout"))
        // `{{ 1 is ` is columns 1–8: `prime` at 9 (`is not prime` likewise at the name).
        XCTAssertEqual(error { _ = try ChatTemplate(source: "{{ 1 is prime }}") },
                       .unknownTest(location: SourceLocation(line: 1, column: 9), name: "prime"))
        XCTAssertEqual(error { _ = try ChatTemplate(source: "{{ 1 is not prime }}") },
                       .unknownTest(location: SourceLocation(line: 1, column: 13), name: "prime"))
        // The example in ChatTemplateError's documentation.
        XCTAssertEqual(error { _ = try ChatTemplate(source: "{% for m in messages %}{{ m.content | shout }}{% endfor %}") },
                       .unknownFilter(location: SourceLocation(line: 1, column: 39), name: "shout"))
        XCTAssertEqual(try? render("{% if false %}{{ 'a' | shout }}{% endif %}ok"), "ok")
        XCTAssertEqual(error { _ = try render("{% if true %}{{ 'a' | shout }}{% endif %}") },
                       .unknownFilter(location: SourceLocation(line: 1, column: 23), name: "shout"))
        XCTAssertEqual(error { _ = try render("{{ 'a' | urlize }}") },
                       .unsupported(location: SourceLocation(line: 1, column: 10), feature: "the 'urlize' filter"))
    }

    /// Runtime errors follow the same rule: an expression's error at the token naming the
    /// operation (operator, called name, filter name), a statement's own error at its `{%`.
    func testRuntimeErrorLocations() {
        // `/` at 6.
        XCTAssertEqual(error { _ = try render("{{ 1 / 0 }}") },
                       .runtime(location: SourceLocation(line: 1, column: 6), kind: "ZeroDivisionError", message: "division by zero"))
        // The `<` at 6, not its operands.
        XCTAssertEqual(error { _ = try render("{{ 1 < 'a' }}") }?.location, SourceLocation(line: 1, column: 6))
        // The `.` of `.y` at 5.
        XCTAssertEqual(error { _ = try render("{{ x.y }}") },
                       .runtime(location: SourceLocation(line: 1, column: 5), kind: "UndefinedError", message: "'x' is undefined"))
        // A method call at the method's name: `{{ 'a'.` is columns 1–7, `split` at 8.
        XCTAssertEqual(error { _ = try render("{{ 'a'.split('') }}") },
                       .runtime(location: SourceLocation(line: 1, column: 8), kind: "ValueError", message: "empty separator"))
        // A call of an undefined name at the name, on line 2.
        XCTAssertEqual(error { _ = try render("\n  {{ f() }}") }?.location, SourceLocation(line: 2, column: 6))
        // A loop over a number and an unpacking that does not fit: at the statement's `{%`.
        XCTAssertEqual(error { _ = try render("x {% for m in 3 %}{% endfor %}") }?.location, SourceLocation(line: 1, column: 3))
        XCTAssertEqual(error { _ = try render("{{ 1 }}{% set a, b = [1] %}") },
                       .runtime(location: SourceLocation(line: 1, column: 8), kind: "ValueError",
                                message: "not enough values to unpack (expected 2, got 1)"))
    }

    /// Tags outside the subset fail at compile time with what they are.
    func testUnsupportedTags() {
        XCTAssertEqual(error { _ = try ChatTemplate(source: "{% include 'x.jinja' %}") },
                       .unsupported(location: SourceLocation(line: 1, column: 4), feature: "the 'include' tag"))
        XCTAssertEqual(error { _ = try ChatTemplate(source: "{% for x in y recursive %}{% endfor %}") },
                       .unsupported(location: SourceLocation(line: 1, column: 15), feature: "a recursive for loop"))
    }

    // MARK: Bounds on untrusted templates

    /// Nested loops of a hundred thousand each (10^10 steps) stop at the iteration bound, at
    /// the `{%` of the loop that passed it (column 29). A bound of 10^4 instead of the default
    /// 2^20 keeps the test fast in debug builds; the default is counted the same way.
    func testRunawayLoopStopsAtTheIterationBound() {
        var limits = ChatTemplate.Limits()
        limits.iterations = 10_000
        let e = error { _ = try render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", limits: limits) }
        XCTAssertEqual(e, .limitExceeded(location: SourceLocation(line: 1, column: 29), what: .iterations, limit: 10_000))
    }

    /// Unbounded recursion through a macro stops at the nesting bound: four times
    /// `Limits.nesting` levels of evaluation (256 by default).
    func testMacroRecursionStopsAtTheNestingBound() {
        let e = error { _ = try render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}") }
        guard case let .limitExceeded(_, what, limit)? = e else { return XCTFail("\(String(describing: e))") }
        XCTAssertEqual(what, .nesting)
        XCTAssertEqual(limit, 256)
        // Two calls per level, 2^61 in all, each level within the nesting bound: the iteration
        // bound (10^4 here, to stay fast in debug builds) stops it.
        var limits = ChatTemplate.Limits()
        limits.iterations = 10_000
        let wide = error {
            _ = try render("{% macro f(n) %}{% if n < 60 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}", limits: limits)
        }
        // `{% macro f(n) %}{% if n < 60 %}{{ ` is columns 1–34: the first inner call's `f` at 35.
        XCTAssertEqual(wide, .limitExceeded(location: SourceLocation(line: 1, column: 35), what: .iterations, limit: 10_000))
    }

    /// Output, strings and lists stop at their size bounds.
    func testSizesStopAtTheirBounds() {
        // 10 MB of output stops at the output bound: 64 KiB here (the default, 4 MiB, is the
        // same check; reaching it takes 40 000 iterations, too slow for a debug build's tests),
        // at the `{{` (column 29).
        var limits = ChatTemplate.Limits()
        limits.outputBytes = 1 << 16
        XCTAssertEqual(error { _ = try render("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", limits: limits) },
                       .limitExceeded(location: SourceLocation(line: 1, column: 29), what: .outputBytes, limit: 1 << 16))
        XCTAssertEqual(error { _ = try render("{{ 'x' * 10000000 }}") }?.limitKind, .stringBytes)
        XCTAssertEqual(error { _ = try render("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}") }?.limitKind,
                       .stringBytes)
        XCTAssertEqual(error { _ = try render("{{ ([0] * 100000) * 100 }}") }?.limitKind, .listElements)
        XCTAssertEqual(error { _ = try render("{{ 'ab' * 9223372036854775807 }}") }?.limitKind, .stringBytes)
        // At the called name, `range` (column 4).
        XCTAssertEqual(error { _ = try render("{{ range(100001) | length }}") },
                       .runtime(location: SourceLocation(line: 1, column: 4), kind: "OverflowError",
                                message: "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000)."))
    }

    /// Work on big strings in a loop stops at the work bound: each string the loop builds is
    /// within the size bound, all of them together are not. With the work bound at 1 MiB (the
    /// default, 256 MiB, is the same check), replacing every byte of a 100 000-byte string a
    /// thousand times (each time 100 000 bytes read and 100 000 written) stops in the fifth
    /// round, at the called `replace`.
    func testStringWorkStopsAtItsBound() {
        var limits = ChatTemplate.Limits()
        limits.work = 1 << 20
        let source = "{% set big = 'x' * 100000 %}{% for i in range(1000) %}{% set y = big.replace('x', 'y') %}{% endfor %}"
        // `{% set big = 'x' * 100000 %}{% for i in range(1000) %}{% set y = big.` is columns 1–69:
        // `replace` at 70.
        XCTAssertEqual(error { _ = try render(source, limits: limits) },
                       .limitExceeded(location: SourceLocation(line: 1, column: 70), what: .work, limit: 1 << 20))
        // The same loop under the bound renders.
        XCTAssertEqual(try render(source.replacingOccurrences(of: "range(1000)", with: "range(4)"), limits: limits), "")
    }

    /// Deep nesting in the source is refused at compile time, whatever its form.
    func testDeepNestingIsRefusedAtCompileTime() {
        let parens = "{{ " + String(repeating: "(", count: 10000) + "1" + String(repeating: ")", count: 10000) + " }}"
        XCTAssertEqual(error { _ = try ChatTemplate(source: parens) }?.limitKind, .nesting)
        let chain = "{{ " + Array(repeating: "1", count: 10000).joined(separator: " + ") + " }}"
        XCTAssertEqual(error { _ = try ChatTemplate(source: chain) }?.limitKind, .nesting)
        let nots = "{{ " + String(repeating: "not ", count: 10000) + "1 }}"
        XCTAssertEqual(error { _ = try ChatTemplate(source: nots) }?.limitKind, .nesting)
        let lists = "{{ " + String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000) + " }}"
        XCTAssertEqual(error { _ = try ChatTemplate(source: lists) }?.limitKind, .nesting)
        let ifs = String(repeating: "{% if true %}", count: 10000) + String(repeating: "{% endif %}", count: 10000)
        XCTAssertEqual(error { _ = try ChatTemplate(source: ifs) }?.limitKind, .nesting)
    }

    /// Values cannot nest without bound either (a namespace growing a list around itself).
    func testDeepValuesAreRefused() {
        let e = error { _ = try render("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}") }
        XCTAssertEqual(e?.limitKind, .nesting)
        XCTAssertEqual(error { _ = try render("{% set ns = namespace() %}{% set ns.me = ns %}") },
                       .unsupported(location: SourceLocation(line: 1, column: 27), feature: "storing a namespace or loop object in a namespace"))
    }

    /// Runs `body` on a thread with a 512 KiB stack: a secondary thread's stack on macOS, and
    /// the size of Swift concurrency's threads there.
    /// Under AddressSanitizer (`Tools/test.sh`'s second pass) locals live on a heap "fake
    /// stack", so the stack guard cannot measure and is off, and instrumented frames are
    /// larger: the 512 KiB claim is the uninstrumented build's, and this pass runs the same
    /// templates on an 8 MiB thread to look for memory errors.
    static let underAddressSanitizer: Bool = {
        guard let program = dlopen(nil, RTLD_NOW) else { return false }
        return dlsym(program, "__asan_init") != nil
    }()

    private func onA512KiBStack(_ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            body()
            done.signal()
        }
        thread.stackSize = Self.underAddressSanitizer ? 8 << 20 : 512 << 10
        thread.start()
        done.wait()
    }

    /// The ways a template recurses at render time, each as deep as the default bounds allow
    /// (`Limits.nesting` 64: the parser counts blocks and expressions together, expressions are
    /// at most 64 high; rendering counts 256 levels). `f(n)` recurses `n` times; each time
    /// through 60 nested blocks of one kind (the macro, 60 blocks, the `if`, the `{{` and the
    /// argument of `f` make 64), 61 chained filters or operators (an expression 64 high), or 60
    /// nested expressions of one kind. Then it serialises, prints, compares and sorts a value
    /// 64 lists deep, the deepest value allowed, with the stack as deep as the bound lets it be.
    static let recursionForms = [
        "if", "for", "with", "filter", "set", "generation",
        "filters", "concat", "or", "slices", "compare", "arguments", "lists", "dicts", "subscripts", "not", "else",
    ]

    /// The template of a recursion form, calling `f(recursions)` (`recursions` a variable).
    static func deepestTemplate(_ form: String) -> String {
        let call = "f(n - 1)"
        func blocks(_ open: String, _ close: String) -> String {
            String(repeating: open, count: 60) + "{{ \(call) }}" + String(repeating: close, count: 60)
        }
        func nest(_ open: String, _ close: String) -> String {
            "{{ " + String(repeating: open, count: 60) + call + String(repeating: close, count: 60) + " }}"
        }
        func chain(_ link: String) -> String { "{{ " + call + String(repeating: link, count: 61) + " }}" }
        let recursion: String
        switch form {
        case "if": recursion = blocks("{% if true %}", "{% endif %}")
        case "for": recursion = blocks("{% for x in [1] %}", "{% endfor %}")
        case "with": recursion = blocks("{% with x = 1 %}", "{% endwith %}")
        case "filter": recursion = blocks("{% filter trim %}", "{% endfilter %}")
        case "set": recursion = blocks("{% set x %}", "{% endset %}{{ x }}")
        case "generation": recursion = blocks("{% generation %}", "{% endgeneration %}")
        case "filters": recursion = chain(" | trim")
        case "concat": recursion = chain(" ~ ''")
        case "or": recursion = chain(" or 1")
        case "slices": recursion = chain("[0:]")
        case "compare": recursion = nest("(", " == 1)")
        case "arguments": recursion = nest("g(", ")")
        case "lists": recursion = nest("[", "]")
        case "dicts": recursion = nest("{'k': ", "}")
        case "subscripts": recursion = nest("ns[", "]")
        case "not": recursion = "{{ " + String(repeating: "not ", count: 60) + call + " }}"
        case "else": recursion = "{{ " + String(repeating: "0 if false else ", count: 60) + call + " }}"
        default: preconditionFailure(form)
        }
        // Kept in a set block and printed as a count, so that the levels above pass on
        // little text.
        let deepestValue = "{% set text %}{{ [ns.v] | tojson(indent=2) }}{{ [ns.v] }}{{ [ns.v] == [ns.v] }}"
            + "{{ [ns.v, ns.v] | sort }}{{ '%s' % [ns.v] }}{{ [ns.v] | map('tojson') | list }}{% endset %}{{ text | length }}"
        return "{% set ns = namespace(v=0) %}{% for i in range(63) %}{% set ns.v = [ns.v] %}{% endfor %}"
            + "{% macro g(x) %}{{ x }}{% endmacro %}"
            + "{% macro f(n) %}{% if n > 0 %}\(recursion){% else %}\(deepestValue){% endif %}{% endmacro %}{{ f(recursions) }}"
    }

    /// Expressions and blocks at the parser's nesting bound (64 levels, the print statement's
    /// expression one of them), and one level past it.
    static func deepestSources(pastTheBound: Bool) -> [String] {
        let k = pastTheBound ? 64 : 63
        return [
            "{{ " + String(repeating: "(", count: k) + "1" + String(repeating: ")", count: k) + " }}",
            "{{ " + String(repeating: "not ", count: k) + "1 }}",
            // The innermost list is empty: no expression inside it.
            "{{ " + String(repeating: "[", count: k + 1) + String(repeating: "]", count: k + 1) + " }}",
            "{{ " + Array(repeating: "1", count: k + 1).joined(separator: " + ") + " }}",
            String(repeating: "{% if true %}", count: k) + "{{ 1 }}" + String(repeating: "{% endif %}", count: k),
        ]
    }

    /// Compiles and renders each deepest template on the current thread: for a source, nil or
    /// the error; for a recursion form, the error that stops the recursion (with the number of
    /// recursions that rendered before it).
    static func deepestOutcomes() -> [(name: String, rendered: Int, error: ChatTemplateError?)] {
        func run(_ source: String, recursions: [Int]) -> (rendered: Int, error: ChatTemplateError?) {
            do throws(ChatTemplateError) {
                let template = try ChatTemplate(source: source)
                for n in recursions {
                    do throws(ChatTemplateError) {
                        _ = try template.render(messages: [], addGenerationPrompt: false, bosToken: "", eosToken: "",
                                                extra: ["recursions": .int(n)])
                    } catch {
                        return (n, error)
                    }
                }
                return (recursions.count, nil)
            } catch {
                return (0, error)
            }
        }
        var outcomes: [(name: String, rendered: Int, error: ChatTemplateError?)] = []
        for (i, source) in deepestSources(pastTheBound: false).enumerated() {
            let (_, error) = run(source, recursions: [0])
            outcomes.append(("source \(i)", 0, error))
        }
        for form in recursionForms {
            let (rendered, error) = run(deepestTemplate(form), recursions: Array(0..<100))
            outcomes.append((form, rendered, error))
        }
        return outcomes
    }

    /// The deepest templates the bounds allow compile and render on a 512 KiB stack.
    ///
    /// In a release build the nesting bounds alone keep them within it: each source at the
    /// parser's bound renders, and each recursion form renders some recursions and then stops
    /// at the nesting bound, never at the stack guard. A debug build takes several times the
    /// stack per level (its parser most: about 20 KiB per parenthesis), so there the stack guard
    /// may stop them first (`.stack`), but nothing crashes; and on the main thread's stack
    /// (8 MiB) they reach the nesting bound too.
    func testDeepestAllowedTemplatesFitA512KiBStack() throws {
        for source in Self.deepestSources(pastTheBound: true) {
            XCTAssertEqual(error { _ = try ChatTemplate(source: source) }?.limitKind, .nesting, String(source.prefix(40)))
        }
        nonisolated(unsafe) var outcomes: [(name: String, rendered: Int, error: ChatTemplateError?)] = []
        onA512KiBStack { outcomes = Self.deepestOutcomes() }
        var checks = [("512 KiB", outcomes)]
        #if DEBUG
        checks.append(("main thread", Self.deepestOutcomes()))
        #endif
        for (stack, outcomes) in checks {
            XCTAssertEqual(outcomes.count, Self.deepestSources(pastTheBound: false).count + Self.recursionForms.count)
            for (name, rendered, error) in outcomes {
                let isForm = Self.recursionForms.contains(name)
                switch error?.limitKind {
                case nil where error == nil && !isForm:
                    break
                case .nesting? where isForm && rendered > 0:
                    break
                #if DEBUG
                case .stack? where stack == "512 KiB":
                    break
                #endif
                default:
                    XCTFail("\(stack): \(name) after \(rendered) recursions: \(String(describing: error))")
                }
            }
        }
    }

    // MARK: The plain template and the API

    /// The documented fallback for checkpoints without a template.
    func testPlainTemplate() throws {
        let messages = [ChatMessage(role: "system", content: "You are terse."), ChatMessage(role: "user", content: "Hi!")]
        XCTAssertEqual(try ChatTemplate.plain.render(messages: messages, addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>"),
                       "<s>system: You are terse.\nuser: Hi!\nassistant:")
        XCTAssertEqual(try ChatTemplate.plain.render(messages: messages, addGenerationPrompt: false, bosToken: "", eosToken: "</s>"),
                       "system: You are terse.\nuser: Hi!\n")
        XCTAssertEqual(try ChatTemplate.plain.render(messages: [], addGenerationPrompt: true, bosToken: "", eosToken: ""), "assistant:")
    }

    /// Extra variables reach the template, keep object key order, and do not replace the
    /// messages or the generation flag.
    func testExtraVariables() throws {
        let tools: ChatTemplateValue = [["type": "function", "function": ["name": "f", "parameters": ["b": 1, "a": [true, nil, 2.5]]]]]
        XCTAssertEqual(try render("{{ tools | tojson }}", extra: ["tools": tools]),
                       #"[{"type": "function", "function": {"name": "f", "parameters": {"b": 1, "a": [true, null, 2.5]}}}]"#)
        XCTAssertEqual(try render("{{ tools }}|{{ documents }}|{{ messages | length }}|{{ add_generation_prompt }}",
                                  extra: ["messages": "ignored", "add_generation_prompt": "ignored"]),
                       "None|None|0|False")
        XCTAssertEqual(try render("{{ bos_token }}", extra: ["bos_token": "<override>"]), "<override>")
    }

    /// ChatTemplateValue reads JSON in order, with errors at line:column and a depth bound.
    func testJSONValues() throws {
        XCTAssertEqual(try ChatTemplateValue(json: Array(#"{"z": 1, "a": [1.5, "\u00e9\ud83d\ude00", null, false], "z": 2}"#.utf8)),
                       .object([("z", 2), ("a", [1.5, "é😀", nil, false])]))
        XCTAssertEqual(error { _ = try ChatTemplateValue(json: Array("{\n  \"a\": tru\n}".utf8)) },
                       .syntax(location: SourceLocation(line: 2, column: 8), expected: "a JSON value", found: "'tru\n}'"))
        XCTAssertNotNil(error { _ = try ChatTemplateValue(json: Array((String(repeating: "[", count: 100_000)).utf8)) })
    }

    /// strftime_now formats the given time as Python's datetime.strftime does.
    func testStrftimeNow() throws {
        XCTAssertEqual(try render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%-d/%-m %H:%M:%S %A %j') }}"),
                       "26 Jul 2024|26/7 09:05:03 Friday 208")
    }

    /// Errors print as one line with the place.
    func testErrorDescriptions() {
        XCTAssertEqual(ChatTemplateError.limitExceeded(location: SourceLocation(line: 3, column: 7), what: .iterations, limit: 10).description,
                       "chat template 3:7: loop iterations and macro calls passed the limit of 10")
        XCTAssertEqual(ChatTemplateError.runtime(location: SourceLocation(line: 1, column: 4), kind: "TypeError", message: "x").description,
                       "chat template 1:4: TypeError: x")
    }
}

extension ChatTemplateError {
    /// The bound passed, for `.limitExceeded`.
    var limitKind: ChatTemplateLimit? {
        if case let .limitExceeded(_, what, _) = self { return what }
        return nil
    }
}
