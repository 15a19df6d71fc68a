// Jinja parser: tokens → `JinjaNode` tree. Follows jinja2/parser.py (3.1): the same operator
// precedence (filters and tests bind tighter than arithmetic, `not x is y` is `not (x is y)`),
// the same statement grammar, a subset of the statements (see `ChatTemplate`).

/// Filters jinja2 3.1 defines (transformers replaces `tojson`). A name outside this list is an
/// unknown filter; a name inside it that Rill does not implement is `unsupported`.
let jinjaFilterNames: Set<String> = [
    "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape",
    "filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent", "int", "items", "join",
    "last", "length", "list", "lower", "map", "max", "min", "pprint", "random", "reject", "rejectattr",
    "replace", "reverse", "round", "safe", "select", "selectattr", "slice", "sort", "string", "striptags",
    "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "urlencode", "urlize", "wordcount",
    "wordwrap", "xmlattr",
]

/// Tests jinja2 3.1 defines.
let jinjaTestNames: Set<String> = [
    "!=", "<", "<=", "==", ">", ">=", "boolean", "callable", "defined", "divisibleby", "eq", "equalto",
    "escaped", "even", "false", "filter", "float", "ge", "greaterthan", "gt", "in", "integer", "iterable",
    "le", "lessthan", "lower", "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence",
    "string", "test", "true", "undefined", "upper",
]

struct JinjaParser {
    private let source: JinjaSource
    private let tokens: [JinjaToken]
    private var index = 0
    private let maxNesting: Int
    /// Current recursion of blocks and expressions, bounded by `maxNesting`.
    private var nesting = 0
    /// `for` bodies around the current position: `break`/`continue` need one.
    private var loopDepth = 0
    /// End tags of the open blocks, innermost last (for the unknown-tag error).
    private var openEndTags: [[String]] = []
    private let stack = JinjaStackGuard()

    static func parse(_ source: JinjaSource, maxNesting: Int) throws(ChatTemplateError) -> [JinjaNode] {
        var parser = JinjaParser(source: source, tokens: try JinjaLexer.tokenize(source), maxNesting: maxNesting)
        let body = try parser.subparse(endTags: [])
        if case .eof = parser.current.kind {} else {
            throw parser.unexpected(expected: "end of template")
        }
        try checkFilterAndTestNames(body, soft: false)
        return body
    }

    private init(source: JinjaSource, tokens: [JinjaToken], maxNesting: Int) {
        self.source = source
        self.tokens = tokens
        self.maxNesting = maxNesting
    }

    // MARK: Token stream

    private var current: JinjaToken { tokens[index] }
    private var next: JinjaToken { tokens[min(index + 1, tokens.count - 1)] }

    private mutating func advance() {
        if index < tokens.count - 1 { index += 1 }
    }

    private func location(_ offset: Int) -> SourceLocation { source.location(offset) }

    private func unexpected(expected: String) -> ChatTemplateError {
        .syntax(location: location(current.offset), expected: expected, found: current.described)
    }

    private func isOp(_ op: String) -> Bool {
        if case .op(op) = current.kind { return true }
        return false
    }

    private func isName(_ name: String) -> Bool {
        if case .name(name) = current.kind { return true }
        return false
    }

    private mutating func skipOp(_ op: String) -> Bool {
        guard isOp(op) else { return false }
        advance()
        return true
    }

    private mutating func skipName(_ name: String) -> Bool {
        guard isName(name) else { return false }
        advance()
        return true
    }

    private mutating func expectOp(_ op: String) throws(ChatTemplateError) {
        guard skipOp(op) else { throw unexpected(expected: "'\(op)'") }
    }

    private mutating func expectName() throws(ChatTemplateError) -> String {
        guard case let .name(n) = current.kind else { throw unexpected(expected: "a name") }
        advance()
        return n
    }

    private mutating func expectBlockEnd() throws(ChatTemplateError) {
        guard case .blockEnd = current.kind else { throw unexpected(expected: "end of statement block '%}'") }
        advance()
    }

    private mutating func enter() throws(ChatTemplateError) {
        nesting += 1
        if nesting > maxNesting {
            throw .limitExceeded(location: location(current.offset), what: .nesting, limit: maxNesting)
        }
        if stack.isExhausted {
            throw .limitExceeded(location: location(current.offset), what: .stack, limit: stack.available)
        }
    }

    private mutating func leave() { nesting -= 1 }

    /// An expression node; its height is bounded by `maxNesting`.
    private func node(_ kind: JinjaExpr.Kind, _ offset: Int, _ childDepth: Int) throws(ChatTemplateError) -> JinjaExpr {
        let depth = childDepth + 1
        if depth > maxNesting {
            throw .limitExceeded(location: location(offset), what: .nesting, limit: maxNesting)
        }
        return JinjaExpr(kind: kind, location: location(offset), depth: depth)
    }

    // MARK: Statements

    /// Nodes up to a `{%` whose tag is in `endTags` (left as the current token) or the end.
    private mutating func subparse(endTags: [String]) throws(ChatTemplateError) -> [JinjaNode] {
        var body: [JinjaNode] = []
        while true {
            switch current.kind {
            case .eof:
                return body
            case let .text(t):
                body.append(.text(t, location(current.offset)))
                advance()
            case .variableBegin:
                let tagStart = current.offset
                advance()
                let e = try parseTuple(withCondExpr: true)
                guard case .variableEnd = current.kind else { throw unexpected(expected: "end of print statement '}}'") }
                advance()
                body.append(.output(e, location(tagStart)))
            case .blockBegin:
                let tagStart = current.offset
                advance()
                if case let .name(n) = current.kind, endTags.contains(n) { return body }
                body.append(try parseStatement(tagStart))
            default:
                throw unexpected(expected: "template text or a tag")
            }
        }
    }

    /// The body of a block whose opening tag ends at the current token (`%}`), through the
    /// name of the end tag that closes it; returns that tag. `openedAt` is the offset of the
    /// opening tag's `{%`, where an unclosed block is reported.
    private mutating func parseBody(until endTags: [String], block: String, openedAt: Int) throws(ChatTemplateError) -> (body: [JinjaNode], tag: String) {
        _ = skipOp(":")
        try expectBlockEnd()
        try enter()
        openEndTags.append(endTags)
        let body = try subparse(endTags: endTags)
        openEndTags.removeLast()
        leave()
        guard case let .name(tag) = current.kind else {
            throw .unclosedBlock(location: location(openedAt), block: block, expected: Self.list(endTags))
        }
        advance()
        return (body, tag)
    }

    private static func list(_ tags: [String]) -> String {
        let quoted = tags.map { "'\($0)'" }
        return quoted.count <= 1 ? (quoted.first ?? "") : quoted.dropLast().joined(separator: ", ") + " or " + quoted.last!
    }

    /// The statement whose tag name is the current token; `tagStart` is the offset of its `{%`.
    private mutating func parseStatement(_ tagStart: Int) throws(ChatTemplateError) -> JinjaNode {
        guard case let .name(tag) = current.kind else { throw unexpected(expected: "a tag name") }
        let start = current.offset
        switch tag {
        case "for": return try parseFor(tagStart)
        case "if": return try parseIf(tagStart)
        case "set": return try parseSet(tagStart)
        case "macro": return try parseMacro(tagStart)
        case "filter":
            advance()
            let filter = try parseFilter(nil, startInline: true)
            let outerLoops = loopDepth
            loopDepth = 0
            let (body, _) = try parseBody(until: ["endfilter"], block: "filter", openedAt: tagStart)
            loopDepth = outerLoops
            try expectBlockEnd()
            return .filterBlock(filter: filter, body: body, location(tagStart))
        case "with": return try parseWith(tagStart)
        case "break", "continue":
            guard loopDepth > 0 else { throw unexpected(expected: "'\(tag)' inside a for loop") }
            advance()
            try expectBlockEnd()
            return .loopControl(isBreak: tag == "break")
        case "generation":
            advance()
            let outerLoops = loopDepth
            loopDepth = 0
            let (body, _) = try parseBody(until: ["endgeneration"], block: "generation", openedAt: tagStart)
            loopDepth = outerLoops
            try expectBlockEnd()
            return .generation(body: body, location(tagStart))
        case "print":
            advance()
            let e = try parseTuple(withCondExpr: true)
            try expectBlockEnd()
            return .output(e, location(tagStart))
        case "include", "extends", "import", "from", "block", "call", "autoescape", "do", "trans":
            throw .unsupported(location: location(start), feature: "the '\(tag)' tag")
        default:
            let expected = openEndTags.last.map { Self.list($0) }
                ?? "a statement tag (for, if, set, macro, filter, with, break, continue, generation, print)"
            throw .syntax(location: location(start), expected: expected, found: "unknown tag '\(tag)'")
        }
    }

    private mutating func parseFor(_ start: Int) throws(ChatTemplateError) -> JinjaNode {
        advance()
        let target = try parseAssignTarget(extraEndNames: ["in"], withNamespace: false)
        guard skipName("in") else { throw unexpected(expected: "'in'") }
        let iterable = try parseTuple(withCondExpr: false, extraEndNames: ["recursive"])
        var condition: JinjaExpr?
        if skipName("if") { condition = try parseExpression(withCondExpr: true) }
        if isName("recursive") {
            throw .unsupported(location: location(current.offset), feature: "a recursive for loop")
        }
        loopDepth += 1
        let (body, tag) = try parseBody(until: ["endfor", "else"], block: "for", openedAt: start)
        loopDepth -= 1
        var otherwise: [JinjaNode] = []
        if tag == "else" {
            otherwise = try parseBody(until: ["endfor"], block: "for", openedAt: start).body
        }
        try expectBlockEnd()
        return .forLoop(JinjaForLoop(target: target, iterable: iterable, condition: condition, body: body,
                                     otherwise: otherwise, location: location(start)))
    }

    private mutating func parseIf(_ start: Int) throws(ChatTemplateError) -> JinjaNode {
        advance()
        var branches: [(test: JinjaExpr, body: [JinjaNode])] = []
        var otherwise: [JinjaNode] = []
        var test = try parseTuple(withCondExpr: false)
        while true {
            let (body, tag) = try parseBody(until: ["elif", "else", "endif"], block: "if", openedAt: start)
            branches.append((test, body))
            if tag == "elif" {
                test = try parseTuple(withCondExpr: false)
                continue
            }
            if tag == "else" {
                otherwise = try parseBody(until: ["endif"], block: "if", openedAt: start).body
            }
            break
        }
        try expectBlockEnd()
        return .conditional(branches: branches, otherwise: otherwise, location(start))
    }

    private mutating func parseSet(_ start: Int) throws(ChatTemplateError) -> JinjaNode {
        advance()
        let target = try parseAssignTarget(extraEndNames: [], withNamespace: true)
        if skipOp("=") {
            let value = try parseTuple(withCondExpr: true)
            try expectBlockEnd()
            return .set(target, value, location(start))
        }
        var filter: JinjaExpr?
        if isOp("|") { filter = try parseFilter(nil, startInline: false) }
        let outerLoops = loopDepth
        loopDepth = 0
        let (body, _) = try parseBody(until: ["endset"], block: "set", openedAt: start)
        loopDepth = outerLoops
        try expectBlockEnd()
        return .setBlock(target, filter: filter, body: body, location(start))
    }

    private mutating func parseMacro(_ start: Int) throws(ChatTemplateError) -> JinjaNode {
        advance()
        let name = try expectName()
        try expectOp("(")
        var parameters: [(name: String, defaultValue: JinjaExpr?)] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let p = try expectName()
            var d: JinjaExpr?
            if skipOp("=") { d = try parseExpression(withCondExpr: true) }
            parameters.append((p, d))
        }
        try expectOp(")")
        let outerLoops = loopDepth
        loopDepth = 0
        let (body, _) = try parseBody(until: ["endmacro"], block: "macro", openedAt: start)
        loopDepth = outerLoops
        try expectBlockEnd()
        return .macro(JinjaMacro(name: name, parameters: parameters, body: body, location: location(start)))
    }

    private mutating func parseWith(_ start: Int) throws(ChatTemplateError) -> JinjaNode {
        advance()
        var assignments: [(target: JinjaTarget, value: JinjaExpr)] = []
        while true {
            if case .blockEnd = current.kind { break }
            if !assignments.isEmpty { try expectOp(",") }
            let target = try parseAssignTarget(extraEndNames: [], withNamespace: false)
            try expectOp("=")
            assignments.append((target, try parseExpression(withCondExpr: true)))
        }
        let (body, _) = try parseBody(until: ["endwith"], block: "with", openedAt: start)
        try expectBlockEnd()
        return .with(assignments: assignments, body: body, location(start))
    }

    /// A name, `ns.attr` (with `withNamespace`), or a tuple of names, optionally parenthesised.
    private mutating func parseAssignTarget(extraEndNames: [String], withNamespace: Bool) throws(ChatTemplateError) -> JinjaTarget {
        if withNamespace, case let .name(ns) = current.kind, case .op(".") = next.kind {
            advance()
            advance()
            return .namespaceAttribute(namespace: ns, attribute: try expectName())
        }
        var items: [JinjaTarget] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if isTupleEnd(extraEndNames) { break }
            items.append(try parseTargetPrimary())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple, let only = items.first { return only }
        guard !items.isEmpty else { throw unexpected(expected: "a name to assign to") }
        return .tuple(items)
    }

    private mutating func parseTargetPrimary() throws(ChatTemplateError) -> JinjaTarget {
        if skipOp("(") {
            try enter()
            defer { leave() }
            let inner = try parseAssignTarget(extraEndNames: [], withNamespace: false)
            try expectOp(")")
            return inner
        }
        guard case let .name(n) = current.kind,
              !["true", "false", "none", "True", "False", "None"].contains(n) else {
            throw unexpected(expected: "a name to assign to")
        }
        advance()
        return .name(n)
    }

    // MARK: Expressions

    private func isTupleEnd(_ extraEndNames: [String]) -> Bool {
        switch current.kind {
        case .variableEnd, .blockEnd, .eof: return true
        case .op(")"): return true
        case let .name(n): return extraEndNames.contains(n)
        default: return false
        }
    }

    /// `a, b, c` → a tuple; one item without a comma → the item. jinja2's parse_tuple.
    private mutating func parseTuple(withCondExpr: Bool, extraEndNames: [String] = [], explicitParentheses: Bool = false) throws(ChatTemplateError) -> JinjaExpr {
        let start = current.offset
        var items: [JinjaExpr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if isTupleEnd(extraEndNames) { break }
            items.append(try parseExpression(withCondExpr: withCondExpr))
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let only = items.first { return only }
            if !explicitParentheses { throw unexpected(expected: "an expression") }
        }
        return try node(.tuple(items), start, items.map(\.depth).max() ?? 0)
    }

    private mutating func parseExpression(withCondExpr: Bool) throws(ChatTemplateError) -> JinjaExpr {
        try enter()
        defer { leave() }
        return withCondExpr ? try parseCondExpr() : try parseOr()
    }

    private mutating func parseCondExpr() throws(ChatTemplateError) -> JinjaExpr {
        var expr = try parseOr()
        while isName("if") {
            let start = current.offset
            advance()
            let test = try parseOr()
            var otherwise: JinjaExpr?
            if skipName("else") {
                try enter()
                defer { leave() }
                otherwise = try parseCondExpr()
            }
            expr = try node(.conditional(test: test, then: expr, otherwise: otherwise), start,
                            max(expr.depth, test.depth, otherwise?.depth ?? 0))
        }
        return expr
    }

    private mutating func parseOr() throws(ChatTemplateError) -> JinjaExpr {
        var left = try parseAnd()
        while isName("or") {
            let start = current.offset
            advance()
            let right = try parseAnd()
            left = try node(.or(left, right), start, max(left.depth, right.depth))
        }
        return left
    }

    private mutating func parseAnd() throws(ChatTemplateError) -> JinjaExpr {
        var left = try parseNot()
        while isName("and") {
            let start = current.offset
            advance()
            let right = try parseNot()
            left = try node(.and(left, right), start, max(left.depth, right.depth))
        }
        return left
    }

    private mutating func parseNot() throws(ChatTemplateError) -> JinjaExpr {
        let start = current.offset
        if skipName("not") {
            try enter()
            defer { leave() }
            let operand = try parseNot()
            return try node(.not(operand), start, operand.depth)
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws(ChatTemplateError) -> JinjaExpr {
        let first = try parseMath1()
        var ops: [(op: JinjaCompareOperator, operand: JinjaExpr, location: SourceLocation)] = []
        var firstOperator: Int?
        while true {
            let opStart = current.offset
            var op: JinjaCompareOperator?
            if case let .op(o) = current.kind, let c = JinjaCompareOperator(rawValue: o), c != .contains, c != .notContains {
                op = c
                advance()
            } else if skipName("in") {
                op = .contains
            } else if isName("not"), case .name("in") = next.kind {
                advance()
                advance()
                op = .notContains
            }
            guard let op else { break }
            if firstOperator == nil { firstOperator = opStart }
            ops.append((op, try parseMath1(), location(opStart)))
        }
        guard let firstOperator else { return first }
        return try node(.compare(first, ops), firstOperator, max(first.depth, ops.map(\.operand.depth).max() ?? 0))
    }

    private mutating func parseBinaryLevel(_ ops: [String], _ operand: (inout JinjaParser) throws(ChatTemplateError) -> JinjaExpr) throws(ChatTemplateError) -> JinjaExpr {
        var left = try operand(&self)
        while case let .op(o) = current.kind, ops.contains(o) {
            let start = current.offset
            advance()
            let right = try operand(&self)
            left = try node(.binary(JinjaBinaryOperator(rawValue: o)!, left, right), start, max(left.depth, right.depth))
        }
        return left
    }

    private mutating func parseMath1() throws(ChatTemplateError) -> JinjaExpr {
        try parseBinaryLevel(["+", "-"]) { (p: inout JinjaParser) throws(ChatTemplateError) in try p.parseConcat() }
    }

    private mutating func parseConcat() throws(ChatTemplateError) -> JinjaExpr {
        try parseBinaryLevel(["~"]) { (p: inout JinjaParser) throws(ChatTemplateError) in try p.parseMath2() }
    }

    private mutating func parseMath2() throws(ChatTemplateError) -> JinjaExpr {
        try parseBinaryLevel(["*", "/", "//", "%"]) { (p: inout JinjaParser) throws(ChatTemplateError) in try p.parsePow() }
    }

    /// `**` is left-associative in jinja2 (`2 ** 3 ** 2` is 64).
    private mutating func parsePow() throws(ChatTemplateError) -> JinjaExpr {
        try parseBinaryLevel(["**"]) { (p: inout JinjaParser) throws(ChatTemplateError) in try p.parseUnary(withFilter: true) }
    }

    private mutating func parseUnary(withFilter: Bool) throws(ChatTemplateError) -> JinjaExpr {
        let start = current.offset
        var expr: JinjaExpr
        if isOp("-") || isOp("+") {
            let negative = isOp("-")
            advance()
            try enter()
            let operand = try parseUnary(withFilter: false)
            leave()
            expr = try node(negative ? .negative(operand) : .positive(operand), start, operand.depth)
        } else {
            expr = try parsePrimary()
        }
        expr = try parsePostfix(expr)
        if withFilter { expr = try parseFilterExpr(expr) }
        return expr
    }

    private mutating func parsePrimary() throws(ChatTemplateError) -> JinjaExpr {
        let start = current.offset
        switch current.kind {
        case let .name(n):
            advance()
            switch n {
            case "true", "True": return try node(.constant(.bool(true)), start, 0)
            case "false", "False": return try node(.constant(.bool(false)), start, 0)
            case "none", "None": return try node(.constant(.none), start, 0)
            default: return try node(.name(n), start, 0)
            }
        case let .string(s):
            // Adjacent literals concatenate: 'a' "b" is "ab".
            var value = s
            advance()
            while case let .string(more) = current.kind {
                value += more
                advance()
            }
            return try node(.constant(.string(value)), start, 0)
        case let .integer(i):
            advance()
            return try node(.constant(.int(i)), start, 0)
        case let .float(f):
            advance()
            return try node(.constant(.float(f)), start, 0)
        case .op("("):
            advance()
            let inner = try parseTuple(withCondExpr: true, explicitParentheses: true)
            try expectOp(")")
            return inner
        case .op("["):
            advance()
            var items: [JinjaExpr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression(withCondExpr: true))
            }
            try expectOp("]")
            return try node(.list(items), start, items.map(\.depth).max() ?? 0)
        case .op("{"):
            advance()
            var items: [(key: JinjaExpr, value: JinjaExpr)] = []
            while !isOp("}") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression(withCondExpr: true)
                try expectOp(":")
                items.append((key, try parseExpression(withCondExpr: true)))
            }
            try expectOp("}")
            return try node(.dict(items), start, items.map { max($0.key.depth, $0.value.depth) }.max() ?? 0)
        default:
            throw unexpected(expected: "an expression")
        }
    }

    /// `.name`, `.0`, `[…]`, `(…)` after a primary.
    private mutating func parsePostfix(_ base: JinjaExpr) throws(ChatTemplateError) -> JinjaExpr {
        var expr = base
        while true {
            let start = current.offset
            if skipOp(".") {
                switch current.kind {
                case let .name(n):
                    advance()
                    expr = try node(.attribute(expr, n), start, expr.depth)
                case let .integer(i):
                    advance()
                    let key = try node(.constant(.int(i)), start, 0)
                    expr = try node(.item(expr, key), start, expr.depth)
                default:
                    throw unexpected(expected: "an attribute name or number after '.'")
                }
            } else if skipOp("[") {
                var args: [JinjaExpr] = []
                while !isOp("]") {
                    if !args.isEmpty { try expectOp(",") }
                    args.append(try parseSubscribed(expr))
                }
                try expectOp("]")
                if args.count == 1, case let .slice(_, a, b, c) = args[0].kind {
                    expr = try node(.slice(expr, start: a, stop: b, step: c), start, max(expr.depth, args[0].depth))
                } else if args.count == 1 {
                    expr = try node(.item(expr, args[0]), start, max(expr.depth, args[0].depth))
                } else {
                    let key = try node(.tuple(args), start, args.map(\.depth).max() ?? 0)
                    expr = try node(.item(expr, key), start, max(expr.depth, key.depth))
                }
            } else if isOp("(") {
                expr = try parseCall(expr)
            } else {
                return expr
            }
        }
    }

    /// One subscript: an expression or a slice `a:b:c` (returned as `.slice` on `base`).
    private mutating func parseSubscribed(_ base: JinjaExpr) throws(ChatTemplateError) -> JinjaExpr {
        let start = current.offset
        var first: JinjaExpr?
        if !isOp(":") {
            first = try parseExpression(withCondExpr: true)
            if !isOp(":") { return first! }
        }
        advance()  // ':'
        var stop: JinjaExpr?
        var step: JinjaExpr?
        if !isOp(":") && !isOp("]") && !isOp(",") { stop = try parseExpression(withCondExpr: true) }
        if skipOp(":") {
            if !isOp("]") && !isOp(",") { step = try parseExpression(withCondExpr: true) }
        }
        let depth = max(first?.depth ?? 0, stop?.depth ?? 0, step?.depth ?? 0)
        return try node(.slice(base, start: first, stop: stop, step: step), start, depth)
    }

    private mutating func parseCallArguments() throws(ChatTemplateError) -> JinjaArguments {
        try expectOp("(")
        var args = JinjaArguments()
        while !isOp(")") {
            if !args.positional.isEmpty || !args.keyword.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            if isOp("*") || isOp("**") {
                throw .unsupported(location: location(current.offset), feature: "*args / **kwargs in a call")
            }
            if case let .name(n) = current.kind, case .op("=") = next.kind {
                advance()
                advance()
                args.keyword.append((n, try parseExpression(withCondExpr: true)))
            } else {
                guard args.keyword.isEmpty else { throw unexpected(expected: "a keyword argument (positional arguments come first)") }
                args.positional.append(try parseExpression(withCondExpr: true))
            }
        }
        try expectOp(")")
        return args
    }

    /// A call on `callee`, the current token being its `(`. Located at the called name (the
    /// name just before the `(` when the callee is a variable or an attribute), else at the `(`.
    private mutating func parseCall(_ callee: JinjaExpr) throws(ChatTemplateError) -> JinjaExpr {
        var start = current.offset
        switch callee.kind {
        case .name, .attribute:
            if index > 0, case .name = tokens[index - 1].kind { start = tokens[index - 1].offset }
        default:
            break
        }
        let args = try parseCallArguments()
        return try node(.call(callee, args), start, max(callee.depth, args.maxDepth))
    }

    /// `| f | g(…)` after an expression (or, with `startInline`, starting at the filter name).
    private mutating func parseFilter(_ operand: JinjaExpr?, startInline: Bool) throws(ChatTemplateError) -> JinjaExpr {
        var expr = operand
        var inline = startInline
        while isOp("|") || inline {
            if !inline { advance() }
            inline = false
            let start = current.offset
            var name = try expectName()
            while skipOp(".") { name += "." + (try expectName()) }
            let args = isOp("(") ? try parseCallArguments() : JinjaArguments()
            expr = try node(.filter(expr, name: name, args), start, max(expr?.depth ?? 0, args.maxDepth))
        }
        guard let expr else { throw unexpected(expected: "a filter name") }
        return expr
    }

    private mutating func parseFilterExpr(_ base: JinjaExpr) throws(ChatTemplateError) -> JinjaExpr {
        var expr = base
        while true {
            if isOp("|") {
                expr = try parseFilter(expr, startInline: false)
            } else if isName("is") {
                expr = try parseTest(expr)
            } else if isOp("(") {
                expr = try parseCall(expr)
            } else {
                return expr
            }
        }
    }

    /// `x is [not] name`, `x is name(args)`, `x is name arg`.
    private mutating func parseTest(_ operand: JinjaExpr) throws(ChatTemplateError) -> JinjaExpr {
        let isStart = current.offset
        advance()  // 'is'
        let negated = skipName("not")
        let start = current.offset
        var name = try expectName()
        while skipOp(".") { name += "." + (try expectName()) }
        var args = JinjaArguments()
        if isOp("(") {
            args = try parseCallArguments()
        } else {
            var takesArgument = false
            switch current.kind {
            case let .name(n): takesArgument = !["else", "or", "and"].contains(n)
            case .string, .integer, .float, .op("("), .op("["), .op("{"): takesArgument = true
            default: break
            }
            if takesArgument {
                if isName("is") { throw unexpected(expected: "one test per 'is' (tests cannot be chained)") }
                args.positional = [try parsePostfix(try parsePrimary())]
            }
        }
        var expr = try node(.test(operand, name: name, args), start, max(operand.depth, args.maxDepth))
        if negated { expr = try node(.not(expr), isStart, expr.depth) }
        return expr
    }

    // MARK: Filter and test names

    /// One piece of the tree still to check, and whether it is in a "soft" frame.
    private enum NameCheck {
        case body([JinjaNode], soft: Bool)
        case expression(JinjaExpr, soft: Bool)
    }

    /// jinja2 fails at compile time on a filter or test it does not have, except inside an
    /// `{% if %}` (test and branches) or an inline `if`, where it fails only if that code
    /// runs; a `for` body, macro, or block inside resets this (jinja2's "soft" frames).
    /// Walks the tree in source order with a work stack rather than recursion: the tree is
    /// as deep as the template's blocks and expressions together.
    private static func checkFilterAndTestNames(_ program: [JinjaNode], soft: Bool) throws(ChatTemplateError) {
        // Children are pushed last first, so that they are checked first first.
        var work: [NameCheck] = [.body(program, soft: soft)]
        var children: [NameCheck] = []
        func push(_ e: JinjaExpr?, _ soft: Bool) {
            if let e { children.append(.expression(e, soft: soft)) }
        }
        func push(_ a: JinjaArguments, _ soft: Bool) {
            for p in a.positional { children.append(.expression(p, soft: soft)) }
            for (_, v) in a.keyword { children.append(.expression(v, soft: soft)) }
        }
        func push(_ body: [JinjaNode], _ soft: Bool) { children.append(.body(body, soft: soft)) }
        while let item = work.popLast() {
            children.removeAll(keepingCapacity: true)
            switch item {
            case let .body(nodes, soft):
                for n in nodes {
                    switch n {
                    case .text, .loopControl: break
                    case let .output(e, _): push(e, soft)
                    case let .conditional(branches, otherwise, _):
                        for (test, body) in branches {
                            push(test, true)
                            push(body, true)
                        }
                        push(otherwise, true)
                    case let .forLoop(loop):
                        push(loop.iterable, soft)
                        push(loop.condition, false)
                        push(loop.body, false)
                        push(loop.otherwise, false)
                    case let .set(_, value, _): push(value, soft)
                    case let .setBlock(_, filter, body, _):
                        push(filter, false)
                        push(body, false)
                    case let .macro(m):
                        for (_, d) in m.parameters { push(d, false) }
                        push(m.body, false)
                    case let .filterBlock(filter, body, _):
                        push(filter, false)
                        push(body, false)
                    case let .with(assignments, body, _):
                        for (_, v) in assignments { push(v, false) }
                        push(body, false)
                    case let .generation(body, _):
                        push(body, false)
                    }
                }
            case let .expression(e, soft):
                switch e.kind {
                case .constant, .name: break
                case let .list(items), let .tuple(items):
                    for i in items { push(i, soft) }
                case let .dict(items):
                    for (k, v) in items {
                        push(k, soft)
                        push(v, soft)
                    }
                case let .attribute(base, _): push(base, soft)
                case let .item(base, key):
                    push(base, soft)
                    push(key, soft)
                case let .slice(base, a, b, c):
                    push(base, soft)
                    push(a, soft)
                    push(b, soft)
                    push(c, soft)
                case let .call(callee, a):
                    push(callee, soft)
                    push(a, soft)
                case let .filter(operand, name, a):
                    if !soft && !jinjaFilterNames.contains(name) { throw .unknownFilter(location: e.location, name: name) }
                    push(operand, soft)
                    push(a, soft)
                case let .test(operand, name, a):
                    if !soft && !jinjaTestNames.contains(name) { throw .unknownTest(location: e.location, name: name) }
                    push(operand, soft)
                    push(a, soft)
                case let .not(x), let .negative(x), let .positive(x):
                    push(x, soft)
                case let .binary(_, l, r), let .and(l, r), let .or(l, r):
                    push(l, soft)
                    push(r, soft)
                case let .compare(first, ops):
                    push(first, soft)
                    for (_, o, _) in ops { push(o, soft) }
                case let .conditional(test, then, otherwise):
                    push(test, true)
                    push(then, true)
                    push(otherwise, true)
                }
            }
            work.append(contentsOf: children.reversed())
        }
    }
}
