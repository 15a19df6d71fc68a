import Foundation

/// One chat message: `role` (`system`, `user`, `assistant`, `tool`, …) and its text.
public struct ChatMessage: Sendable, Codable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A checkpoint's chat template (`tokenizer_config.json`'s `chat_template`), compiled once,
/// rendering chat messages into the prompt text the model was trained on.
///
/// Rendering equals transformers' `apply_chat_template(messages, tokenize=False, …)`: jinja2's
/// `ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)` with the `loopcontrols`
/// extension, transformers' `tojson` (`json.dumps(x, ensure_ascii=False, …)`),
/// `raise_exception(message)` and `strftime_now(format)`, and the variables `messages` (a list of
/// `{"role", "content"}` dicts), `add_generation_prompt`, `bos_token`, `eos_token`,
/// `tools = none`, `documents = none`, plus `extra`. The tests compare byte for byte with
/// jinja2 on the templates of Qwen 1.5/2.5/3, Llama 2/3/3.1/3.2, Mistral v0.1/v0.3/Nemo,
/// Mixtral, Zephyr, TinyLlama, Gemma 1/2, Phi-3/3.5, SmolLM2 and DeepSeek V2/Coder/R1
/// (`Tests/Fixtures/chat_templates`).
///
/// The Jinja subset: text, `{{ }}`, `{% %}`, `{# #}`, `{% raw %}`, whitespace control (`-`,
/// `+`, trim_blocks, lstrip_blocks); `for` (unpacking, `if` filter, `else`, `loop.index`,
/// `index0`, `revindex`, `revindex0`, `first`, `last`, `length`, `previtem`, `nextitem`,
/// `cycle`), `break`, `continue`, `if`/`elif`/`else`, `set` (also `ns.attr`, tuples, blocks),
/// `macro` (positional, keyword and default arguments), `filter` and `with` blocks,
/// transformers' `generation` tag, `print`; Python literals, arithmetic, comparisons (chained),
/// `in`, `and`/`or`/`not`, `~`, inline `if`, subscripts, slices, calls; the jinja2 filters and
/// tests most templates use (see `JinjaFilters.swift`), the usual `str`, `dict` and `list`
/// methods, and the globals `range`, `dict`, `namespace`. Left out: `include`, `extends`,
/// `import`, `block`, `call` blocks, recursive loops, `*args`, `loop.changed`, macros'
/// `caller`/`varargs`/`kwargs`, integers beyond 64 bits, and a few filters (`groupby`,
/// `slice`, `truncate`, `wordwrap`, `urlize`, `urlencode`, `xmlattr`, `striptags`,
/// `filesizeformat`, `pprint`, `random`); each fails with `ChatTemplateError.unsupported`.
/// Where Rill knowingly differs from jinja2 on what it does implement: `range(…)` and
/// `d.items()` are plain lists when printed, and `list.pop` / `list.clear` (which jinja2's
/// sandbox lets through) are refused.
///
/// Templates are untrusted input: compiling bounds the nesting of blocks and expressions, and
/// rendering bounds output size, loop iterations and macro calls, string and list sizes, and
/// string work (`Limits`), failing with `ChatTemplateError.limitExceeded` instead of trapping,
/// hanging or exhausting memory. With the default limits a release build compiles and renders
/// any template within about 250 KiB of stack (a 512 KiB thread, as on macOS, is enough);
/// should the thread's stack still run short (a debug build takes several times more), both
/// stop with `ChatTemplateLimit.stack` rather than overflow it.
public struct ChatTemplate: Sendable {
    /// Bounds on one template's compilation and each render. The defaults are far above what
    /// real chat templates need (their prompts are kilobytes; their loops run once per message)
    /// and far below what would hurt a server.
    public struct Limits: Sendable, Equatable {
        /// UTF-8 bytes of rendered output (4 MiB: about a million tokens of prompt).
        public var outputBytes = 4 << 20
        /// UTF-8 bytes of any one string built while rendering.
        public var stringBytes = 4 << 20
        /// Elements of any one list or dict built while rendering.
        public var listElements = 1 << 18
        /// Loop iterations plus macro calls over a whole render.
        public var iterations = 1 << 20
        /// Nesting in the source (blocks and parenthesised, bracketed or argument
        /// expressions, counted together; an expression is also at most this high), and of
        /// values; rendering's recursion (blocks, expressions and macro calls together) is
        /// bounded by four times this.
        public var nesting = 64
        /// Bytes written by string operations over a whole render (256 MiB, well under a
        /// second of copying): bounds time spent on huge strings in a loop.
        public var work = 1 << 28

        public init() {}
    }

    /// The template text as given.
    public let source: String
    public let limits: Limits
    let program: [JinjaNode]

    /// Compiles `source`. Fails with the line and column of the first syntax error, an
    /// unclosed block, a filter or test jinja2 does not know (outside `if`), or a tag outside
    /// the subset.
    public init(source: String, limits: Limits = Limits()) throws(ChatTemplateError) {
        self.source = source
        self.limits = limits
        program = try JinjaParser.parse(JinjaSource(source), maxNesting: limits.nesting)
    }

    /// Renders the prompt for `messages`.
    ///
    /// - Parameters:
    ///   - addGenerationPrompt: end with the header of an assistant turn, for the model to
    ///     complete (transformers' `add_generation_prompt`).
    ///   - bosToken, eosToken: the tokenizer's special tokens as text (`<s>`, `</s>`, …);
    ///     pass "" when the tokenizer has none.
    ///   - extra: more template variables (`tools`, `date_string`, `enable_thinking`, …), as
    ///     transformers' keyword arguments; they replace `tools`/`documents` (none by default)
    ///     and the special tokens, but not `messages` or `add_generation_prompt`.
    ///   - now: the time `strftime_now` formats, in the local time zone as Python's
    ///     `datetime.now()`; the current time by default.
    /// - Throws: `ChatTemplateError.raised` when the template calls `raise_exception` (the
    ///   message is the template's), `.runtime` where jinja2 would raise, `.limitExceeded`
    ///   at a bound.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
                       extra: [String: ChatTemplateValue] = [:], now: Date = Date()) throws(ChatTemplateError) -> String {
        var variables: [String: JinjaValue] = [
            "tools": .none,
            "documents": .none,
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
        ]
        for (key, value) in extra { variables[key] = value.jinjaValue }
        var list: [JinjaValue] = []
        list.reserveCapacity(messages.count)
        for m in messages {
            var d = JinjaDict()
            d.set(.string("role"), .string(m.role))
            d.set(.string("content"), .string(m.content))
            list.append(.dict(d))
        }
        variables["messages"] = .list(JinjaList(list))
        variables["add_generation_prompt"] = .bool(addGenerationPrompt)
        let renderer = JinjaRenderer(limits: limits, now: now, variables: variables)
        return try renderer.render(program)
    }

    /// The template for checkpoints without one: the BOS token, then one line
    /// `<role>: <content>` per message, then `assistant:` (no space or newline after it)
    /// when `addGenerationPrompt` is set. For example, a system and a user message:
    ///
    ///     <s>system: You are terse.
    ///     user: Hi!
    ///     assistant:
    ///
    /// Plain text a base model continues naturally; it matches no checkpoint's training format.
    public static let plain: ChatTemplate = {
        let source = "{{ bos_token }}{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
            + "{% if add_generation_prompt %}assistant:{% endif %}"
        // A constant that the tests render: compiling it cannot fail.
        return try! ChatTemplate(source: source)
    }()
}
