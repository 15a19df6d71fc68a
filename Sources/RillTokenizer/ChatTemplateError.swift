/// A place in a chat template's source: 1-based line, and 1-based column counted in Unicode
/// scalars from the start of the line. Lines are counted after `\r\n` and `\r` become `\n`,
/// as jinja2 counts them.
public struct SourceLocation: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// `line:column`.
    public var description: String { "\(line):\(column)" }
}

/// Why a chat template could not be compiled or rendered.
///
/// Chat templates come from the checkpoint's `tokenizer_config.json`, so they are untrusted:
/// every failure, from a typo to a template that would loop for hours, ends here with the
/// place in the template it comes from. Nothing traps.
///
/// The place (`location`) is always the first character of one token of the template, chosen
/// by one rule: the token that begins the construct that failed.
/// - Something left open points at what opened it: a block without its end tag
///   (`unclosedBlock`), a `{{`, `{%` or `{#` without its `}}`, `%}` or `#}`, a `{% raw %}`
///   without `{% endraw %}` are reported at that `{{`, `{%` or `{#`.
/// - Any other syntax error points at the token found where another was needed (the end of
///   the template is just past its last character); an unknown or unsupported tag, filter or
///   test at its name.
/// - An error of a statement itself points at the `{{` or `{%` that opens it: iterating (a
///   `for` over something not iterable, the iteration bound), unpacking or assigning a `for`,
///   `set` or `with` target, printing (the output bound), entering a block past the nesting
///   or stack bound. Template text past the output bound: its first character.
/// - An error of an expression points at the token that names the failing operation: a call
///   (a macro, `raise_exception`, `range`, a method) at the called name — `raise_exception`
///   in `raise_exception('…')`, `strip` in `m.strip()` — or at its `(` when what is called
///   is not a name; a filter or test at its name; an operator at its first token (`+`, `~`,
///   `*`, `==`, `not`, `in`, `[`, `.`, `and`, the `if` of an inline if); a literal or
///   variable at its first character.
/// - At compile time the nesting and stack bounds point at the token where the nesting
///   passed them.
///
/// For example, in `{% for m in messages %}{{ m.content | shout }}{% endfor %}` an unknown
/// filter is at `shout` (1:39); a loop over a number at the `{%` (1:1); a missing
/// `{% endfor %}` also at that `{%`.
///
/// `indirect`: an error is one pointer wide. Functions with typed throws keep room for their
/// error in their frame, and the renderer's recursion goes through many of them.
public indirect enum ChatTemplateError: Error, CustomStringConvertible, Equatable {
    /// The source does not parse: at `location` the parser looked for `expected` and found
    /// `found` (a token such as `'+'`, `name 'x'`, `end of template`).
    case syntax(location: SourceLocation, expected: String, found: String)
    /// A block tag opened at `location` (`block` is `for`, `if`, `macro`, …) has no end tag
    /// before the end of the template; `expected` names the tags that would close it.
    case unclosedBlock(location: SourceLocation, block: String, expected: String)
    /// A filter that jinja2 does not have either. Reported when the template is compiled,
    /// unless the filter sits inside an `{% if %}` or an inline `… if … else …`, where jinja2
    /// (and so Rill) reports it only if that branch is rendered.
    case unknownFilter(location: SourceLocation, name: String)
    /// A test (`x is name`) that jinja2 does not have either; reported as `unknownFilter` is.
    case unknownTest(location: SourceLocation, name: String)
    /// A jinja2 feature outside the subset Rill implements (`{% include %}`, `{% call %}`, the
    /// `urlize` filter, integers beyond 64 bits, …). `feature` says which.
    case unsupported(location: SourceLocation, feature: String)
    /// The template called `raise_exception(message)`, as templates do to refuse a
    /// conversation (roles that do not alternate, a system message the model does not take).
    case raised(location: SourceLocation, message: String)
    /// Rendering failed where Python would raise: `kind` is the Python exception's name
    /// (`TypeError`, `UndefinedError`, `ZeroDivisionError`, `SecurityError`, …) and `message`
    /// its text where Rill can reproduce it.
    case runtime(location: SourceLocation, kind: String, message: String)
    /// Compiling or rendering passed one of the bounds that keep an untrusted template from
    /// exhausting time, memory or stack (`ChatTemplate.Limits`, and the thread's stack);
    /// `limit` is the bound's value.
    case limitExceeded(location: SourceLocation, what: ChatTemplateLimit, limit: Int)

    /// Where in the template the error is.
    public var location: SourceLocation {
        switch self {
        case let .syntax(location, _, _), let .unclosedBlock(location, _, _),
             let .unknownFilter(location, _), let .unknownTest(location, _),
             let .unsupported(location, _), let .raised(location, _),
             let .runtime(location, _, _), let .limitExceeded(location, _, _):
            return location
        }
    }

    /// One line: `chat template <line>:<column>: <what is wrong>`.
    public var description: String {
        let prefix = "chat template \(location): "
        switch self {
        case let .syntax(_, expected, found):
            return prefix + "expected \(expected), found \(found)"
        case let .unclosedBlock(_, block, expected):
            return prefix + "'\(block)' block is never closed (expected \(expected) before the end of the template)"
        case let .unknownFilter(_, name):
            return prefix + "no filter named '\(name)'"
        case let .unknownTest(_, name):
            return prefix + "no test named '\(name)'"
        case let .unsupported(_, feature):
            return prefix + "\(feature) is not supported by Rill's Jinja subset"
        case let .raised(_, message):
            return prefix + "raise_exception: \(message)"
        case let .runtime(_, kind, message):
            return prefix + "\(kind): \(message)"
        case let .limitExceeded(_, what, limit):
            return prefix + "\(what.rawValue) passed the limit of \(limit)"
        }
    }
}

/// The bounds a render keeps to (values in `ChatTemplate.Limits`).
public enum ChatTemplateLimit: String, Sendable, Equatable {
    /// UTF-8 bytes of rendered text.
    case outputBytes = "output size in bytes"
    /// Loop iterations plus macro calls, over the whole render.
    case iterations = "loop iterations and macro calls"
    /// Nesting of blocks and expressions in the source, of values, and of macro calls.
    case nesting = "nesting depth"
    /// UTF-8 bytes of one string made while rendering.
    case stringBytes = "length of a string in bytes"
    /// Elements of one list or dict made while rendering.
    case listElements = "number of elements of a list"
    /// Bytes written by string operations (concatenation, replace, join, tojson, …), over the
    /// whole render: bounds the time a template can spend on big strings.
    case work = "bytes of string work"
    /// Bytes of the thread's stack: what is left of it when compiling or rendering began, less
    /// a reserve. Only a thread with a small stack, or a debug build (whose frames are several
    /// times larger), reaches it before the nesting bound; release builds keep within 512 KiB.
    case stack = "stack space in bytes"
}
