// The syntax tree of a parsed Jinja template: statements (`JinjaNode`) holding expressions
// (`JinjaExpr`). Immutable and Sendable, so a compiled `ChatTemplate` is shared freely.

/// A literal in the source.
enum JinjaConstant: Sendable {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
}

enum JinjaBinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//"
    case modulo = "%", power = "**", concat = "~"
}

enum JinjaCompareOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<="
    case greater = ">", greaterOrEqual = ">=", contains = "in", notContains = "not in"
}

/// Call arguments: positional, then `name=value`.
struct JinjaArguments: Sendable {
    var positional: [JinjaExpr] = []
    var keyword: [(name: String, value: JinjaExpr)] = []

    var maxDepth: Int {
        var d = 0
        for e in positional { d = max(d, e.depth) }
        for (_, e) in keyword { d = max(d, e.depth) }
        return d
    }
}

/// An expression node, its place in the source, and its height (a leaf is 1), which the
/// parser bounds so that evaluating it cannot recurse without limit. The place is the token
/// that names the operation (see `ChatTemplateError`): an operator, a filter's or test's
/// name, a call's called name (or its `(`), a literal's or variable's first character.
struct JinjaExpr: Sendable {
    indirect enum Kind: Sendable {
        case constant(JinjaConstant)
        case name(String)
        case list([JinjaExpr])
        case tuple([JinjaExpr])
        case dict([(key: JinjaExpr, value: JinjaExpr)])
        /// `x.name`: attribute first, then item (jinja2's `getattr`).
        case attribute(JinjaExpr, String)
        /// `x[key]`: item first, then attribute (jinja2's `getitem`).
        case item(JinjaExpr, JinjaExpr)
        case slice(JinjaExpr, start: JinjaExpr?, stop: JinjaExpr?, step: JinjaExpr?)
        case call(JinjaExpr, JinjaArguments)
        /// `x | name(args)`; the operand is nil in `{% filter %}` and `{% set x | f %}` blocks,
        /// where the block's text takes its place.
        case filter(JinjaExpr?, name: String, JinjaArguments)
        case test(JinjaExpr, name: String, JinjaArguments)
        case not(JinjaExpr)
        case negative(JinjaExpr)
        case positive(JinjaExpr)
        case binary(JinjaBinaryOperator, JinjaExpr, JinjaExpr)
        case and(JinjaExpr, JinjaExpr)
        case or(JinjaExpr, JinjaExpr)
        /// `a < b <= c`: chained as in Python; each operator with its place.
        case compare(JinjaExpr, [(op: JinjaCompareOperator, operand: JinjaExpr, location: SourceLocation)])
        case conditional(test: JinjaExpr, then: JinjaExpr, otherwise: JinjaExpr?)
    }

    let kind: Kind
    let location: SourceLocation
    let depth: Int
}

/// Where `set`, `for` and `with` store values.
indirect enum JinjaTarget: Sendable {
    case name(String)
    /// `a, b` / `(a, (b, c))`: unpacking.
    case tuple([JinjaTarget])
    /// `ns.attr` for a `namespace()`.
    case namespaceAttribute(namespace: String, attribute: String)
}

struct JinjaForLoop: Sendable {
    var target: JinjaTarget
    var iterable: JinjaExpr
    /// `{% for x in xs if cond %}`: items failing it are skipped before `loop` counts them.
    var condition: JinjaExpr?
    var body: [JinjaNode]
    /// Rendered when no item was iterated.
    var otherwise: [JinjaNode]
    var location: SourceLocation
}

/// `{% macro name(a, b=default) %}…{% endmacro %}`. A class so a macro value refers to it
/// without copying the body.
final class JinjaMacro: Sendable {
    let name: String
    let parameters: [(name: String, defaultValue: JinjaExpr?)]
    let body: [JinjaNode]
    let location: SourceLocation

    init(name: String, parameters: [(name: String, defaultValue: JinjaExpr?)], body: [JinjaNode], location: SourceLocation) {
        self.name = name
        self.parameters = parameters
        self.body = body
        self.location = location
    }
}

/// A statement or piece of template text. A statement's `SourceLocation` is its opening `{%`
/// (or `{{`), where errors of the statement itself are reported.
indirect enum JinjaNode: Sendable {
    case text(String, SourceLocation)
    /// `{{ expr }}` or `{% print expr %}`.
    case output(JinjaExpr, SourceLocation)
    /// `if` / `elif`… / `else`.
    case conditional(branches: [(test: JinjaExpr, body: [JinjaNode])], otherwise: [JinjaNode], SourceLocation)
    case forLoop(JinjaForLoop)
    case set(JinjaTarget, JinjaExpr, SourceLocation)
    /// `{% set x %}…{% endset %}`, optionally `{% set x | filter %}`.
    case setBlock(JinjaTarget, filter: JinjaExpr?, body: [JinjaNode], SourceLocation)
    case macro(JinjaMacro)
    /// `{% filter f %}…{% endfilter %}`: `filter` is a filter chain whose innermost operand is nil.
    case filterBlock(filter: JinjaExpr, body: [JinjaNode], SourceLocation)
    /// `{% with a = 1 %}…{% endwith %}`.
    case with(assignments: [(target: JinjaTarget, value: JinjaExpr)], body: [JinjaNode], SourceLocation)
    /// `{% break %}` / `{% continue %}` (jinja2.ext.loopcontrols, which transformers enables).
    case loopControl(isBreak: Bool)
    /// transformers' `{% generation %}…{% endgeneration %}`: its body, unchanged.
    case generation(body: [JinjaNode], SourceLocation)
}
