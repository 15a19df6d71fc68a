import Foundation

// Jinja evaluator: runs a parsed template over its variables with jinja2's semantics
// (jinja2/runtime.py, sandbox.py, compiler.py), counting everything `ChatTemplate.Limits`
// bounds.

/// Variables visible at one point. A `for` iteration, macro call, `with`, and captured block
/// get a child scope; `set` writes to the innermost scope (so, as in jinja2, a `set` inside a
/// loop does not outlive the iteration, which is what `namespace()` is for).
final class JinjaScope {
    var variables: [String: JinjaValue] = [:]
    let parent: JinjaScope?

    init(parent: JinjaScope?) { self.parent = parent }

    func lookup(_ name: String) -> JinjaValue? {
        var scope: JinjaScope? = self
        while let s = scope {
            if let v = s.variables[name] { return v }
            scope = s.parent
        }
        return nil
    }
}

/// Arguments of a call, evaluated.
struct JinjaCallArguments {
    var positional: [JinjaValue] = []
    var keyword: [(name: String, value: JinjaValue)] = []

    /// Binds to a Python signature of `names` (no `*args`): one value or nil per name.
    func bind(_ names: [String], _ function: String, at location: SourceLocation) throws(ChatTemplateError) -> [JinjaValue?] {
        if positional.count > names.count {
            throw .runtime(location: location, kind: "TypeError",
                           message: "\(function)() takes at most \(names.count) argument(s) (\(positional.count) given)")
        }
        var out: [JinjaValue?] = positional.map { $0 }
        out += Array(repeating: nil, count: names.count - positional.count)
        for (name, value) in keyword {
            guard let i = names.firstIndex(of: name) else {
                throw .runtime(location: location, kind: "TypeError", message: "\(function)() got an unexpected keyword argument '\(name)'")
            }
            guard out[i] == nil else {
                throw .runtime(location: location, kind: "TypeError", message: "\(function)() got multiple values for argument '\(name)'")
            }
            out[i] = value
        }
        return out
    }
}

/// The stack a compile or render may still use. The nesting bounds are counts; in a release
/// build they keep compiling and rendering within about 250 KiB of stack, whatever the
/// template (`testDeepestAllowedTemplatesFitA512KiBStack`). A debug build takes several times
/// the stack per level (no inlining, a stack slot for every local), and a caller may render on
/// a thread with a small stack; so compiling and rendering also stop, with
/// `ChatTemplateError.limitExceeded(…, .stack, …)`, when the stack left on the thread falls to
/// `reserve`: room for what the nesting checks do not see (a filter, printing, comparing or
/// serialising a value nested as deep as values may be: 14 KiB in release, 60 KiB in debug,
/// measured).
struct JinjaStackGuard {
    #if DEBUG
    static let reserve = 128 << 10
    #else
    static let reserve = 64 << 10
    #endif

    /// The lowest address the stack may reach; 0 where the thread's stack cannot be found
    /// (then nothing is checked).
    private let floor: UInt
    /// Bytes between the stack pointer when the guard was made and `floor`.
    let available: Int

    init() {
        let here = Self.stackAddress()
        // A local outside the thread's stack (AddressSanitizer keeps locals on a "fake stack"
        // on the heap) says nothing about the stack left: then nothing is checked.
        guard let (low, high) = Self.threadStack(), here > low, here <= high else {
            floor = 0
            available = .max
            return
        }
        floor = low + UInt(Self.reserve)
        available = here > floor ? Int(here - floor) : 0
    }

    /// Whether the stack has reached `floor`.
    var isExhausted: Bool { Self.stackAddress() < floor }

    /// An address in the caller's frame.
    @inline(never)
    private static func stackAddress() -> UInt {
        var marker: UInt8 = 0
        return withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
    }

    /// The lowest and highest addresses of the current thread's stack.
    private static func threadStack() -> (UInt, UInt)? {
        #if canImport(Darwin)
        let thread = pthread_self()
        let top = UInt(bitPattern: pthread_get_stackaddr_np(thread))
        return (top - UInt(pthread_get_stacksize_np(thread)), top)
        #elseif canImport(Glibc) || canImport(Musl)
        var attributes = pthread_attr_t()
        guard pthreadGetAttributes(pthread_self(), &attributes) == 0 else { return nil }
        defer { pthread_attr_destroy(&attributes) }
        var low: UnsafeMutableRawPointer?
        var size = 0
        guard pthread_attr_getstack(&attributes, &low, &size) == 0, let low else { return nil }
        return (UInt(bitPattern: low), UInt(bitPattern: low) + UInt(size))
        #else
        return nil
        #endif
    }
}

#if canImport(Glibc) || canImport(Musl)
/// glibc's and musl's `pthread_getattr_np` (a GNU extension the Swift module of the C library
/// leaves out): the attributes of a running thread, its stack's place and size among them.
@_silgen_name("pthread_getattr_np")
private func pthreadGetAttributes(_ thread: pthread_t, _ attributes: UnsafeMutablePointer<pthread_attr_t>) -> CInt
#endif

/// Whether a block finished or a `break` / `continue` is on its way to the enclosing loop.
enum JinjaFlow {
    case normal, breakLoop, continueLoop
}

final class JinjaRenderer {
    let limits: ChatTemplate.Limits
    let now: Date
    let root: JinjaScope
    /// Text rendered so far into the innermost output (a set block or macro captures its own).
    var out = ""
    var iterations = 0
    var work = 0
    var depth = 0
    let maxDepth: Int
    let stack = JinjaStackGuard()

    static let globalNames: Set<String> = ["range", "dict", "namespace", "raise_exception", "strftime_now", "cycler", "joiner", "lipsum"]

    init(limits: ChatTemplate.Limits, now: Date, variables: [String: JinjaValue]) {
        self.limits = limits
        self.now = now
        maxDepth = limits.nesting * 4
        root = JinjaScope(parent: nil)
        root.variables = variables
    }

    func render(_ program: [JinjaNode]) throws(ChatTemplateError) -> String {
        _ = try exec(program, root)
        return out
    }

    // MARK: Errors and bounds

    func typeError(_ message: String, _ location: SourceLocation) -> ChatTemplateError {
        .runtime(location: location, kind: "TypeError", message: message)
    }

    func undefinedError(_ u: JinjaUndefined, _ location: SourceLocation) -> ChatTemplateError {
        .runtime(location: location, kind: u.errorKind, message: u.message)
    }

    /// One level deeper into the template (an expression, a block, a macro call).
    func enter(_ location: SourceLocation) throws(ChatTemplateError) {
        depth += 1
        if depth > maxDepth { throw .limitExceeded(location: location, what: .nesting, limit: maxDepth) }
        if stack.isExhausted { throw .limitExceeded(location: location, what: .stack, limit: stack.available) }
    }

    func countIteration(_ location: SourceLocation) throws(ChatTemplateError) {
        iterations += 1
        if iterations > limits.iterations { throw .limitExceeded(location: location, what: .iterations, limit: limits.iterations) }
    }

    func charge(_ bytes: Int, _ location: SourceLocation) throws(ChatTemplateError) {
        work += bytes
        if work > limits.work { throw .limitExceeded(location: location, what: .work, limit: limits.work) }
    }

    /// A string result: counted as work and bounded in length.
    func makeString(_ s: String, _ location: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        let n = s.utf8.count
        if n > limits.stringBytes { throw .limitExceeded(location: location, what: .stringBytes, limit: limits.stringBytes) }
        try charge(n, location)
        return .string(s)
    }

    /// Fails before building a string of `bytes` bytes.
    func checkStringSize(_ bytes: Int, _ location: SourceLocation) throws(ChatTemplateError) {
        if bytes > limits.stringBytes { throw .limitExceeded(location: location, what: .stringBytes, limit: limits.stringBytes) }
    }

    func checkListSize(_ count: Int, _ location: SourceLocation) throws(ChatTemplateError) {
        if count > limits.listElements { throw .limitExceeded(location: location, what: .listElements, limit: limits.listElements) }
    }

    /// A list or tuple result, bounded in length and nesting.
    @inline(never)
    func makeList(_ items: [JinjaValue], isTuple: Bool = false, _ location: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        try checkListSize(items.count, location)
        try charge(items.count, location)
        let l = JinjaList(items, isTuple: isTuple)
        if l.depth > limits.nesting { throw .limitExceeded(location: location, what: .nesting, limit: limits.nesting) }
        return .list(l)
    }

    /// A dict of the keys and values alternating in `pairs` (a later key replaces an earlier
    /// one's value), failing on an unhashable key as Python does.
    @inline(never)
    func makeDict(pairs: [JinjaValue], _ location: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        var d = JinjaDict()
        for i in stride(from: 0, to: pairs.count, by: 2) {
            guard d.set(pairs[i], pairs[i + 1]) else { throw typeError("unhashable type: '\(pairs[i].typeName)'", location) }
        }
        return try makeDict(d, location)
    }

    @inline(never)
    func makeDict(_ d: JinjaDict, _ location: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        try checkListSize(d.count, location)
        if d.depth > limits.nesting { throw .limitExceeded(location: location, what: .nesting, limit: limits.nesting) }
        return .dict(d)
    }

    /// Python `str(v)`, bounded.
    @inline(never)
    func str(_ v: JinjaValue, _ location: SourceLocation) throws(ChatTemplateError) -> String {
        if case let .string(s) = v { return s }
        var s = ""
        let limit = limits.stringBytes
        try pyAppendText(v, repr: false, to: &s, limit: limit) { .limitExceeded(location: location, what: .stringBytes, limit: limit) }
        try charge(s.utf8.count, location)
        return s
    }

    /// Python `repr(v)`, bounded.
    @inline(never)
    func repr(_ v: JinjaValue, _ location: SourceLocation) throws(ChatTemplateError) -> String {
        var s = ""
        let limit = limits.stringBytes
        try pyAppendText(v, repr: true, to: &s, limit: limit) { .limitExceeded(location: location, what: .stringBytes, limit: limit) }
        try charge(s.utf8.count, location)
        return s
    }

    @inline(never)
    func emit(_ s: String, _ location: SourceLocation) throws(ChatTemplateError) {
        out += s
        if out.utf8.count > limits.outputBytes {
            throw .limitExceeded(location: location, what: .outputBytes, limit: limits.outputBytes)
        }
    }

    /// Renders `body` into a string of its own.
    func capture(_ body: [JinjaNode], _ scope: JinjaScope) throws(ChatTemplateError) -> String {
        let saved = out
        out = ""
        _ = try exec(body, scope)
        let text = out
        out = saved
        return text
    }

    // MARK: Statements
    //
    // As with expressions (see `eval`), `exec` only dispatches, and the statements that nest
    // have functions of their own, out of line.

    func exec(_ nodes: [JinjaNode], _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaFlow {
        for node in nodes {
            let flow: JinjaFlow
            switch node {
            case .text, .output, .set, .macro:
                try execSimple(node, scope)
                continue
            case let .loopControl(isBreak):
                return isBreak ? .breakLoop : .continueLoop
            case .forLoop:
                flow = try execFor(node, scope)
            case .conditional:
                flow = try execIf(node, scope)
            case .setBlock, .filterBlock:
                try execCapture(node, scope)
                continue
            case .with, .generation:
                flow = try execScoped(node, scope)
            }
            if flow != .normal { return flow }
        }
        return .normal
    }

    /// Statements without a body: text, `{{ }}`, `set`, and a macro's definition.
    @inline(never)
    private func execSimple(_ node: JinjaNode, _ scope: JinjaScope) throws(ChatTemplateError) {
        switch node {
        case let .text(t, location):
            try emit(t, location)
        case let .output(e, location):
            // An undefined value (even the sandbox's refusal) prints as nothing.
            let v = try eval(e, scope)
            try emit(try str(v, location), location)
        case let .set(target, value, location):
            try assign(target, try eval(value, scope), scope, location)
        case let .macro(m):
            scope.variables[m.name] = .callable(.macro(m))
        default:
            preconditionFailure("not a simple statement")
        }
    }

    @inline(never)
    private func execIf(_ node: JinjaNode, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaFlow {
        guard case let .conditional(branches, otherwise, location) = node else { preconditionFailure("not an if") }
        var taken = otherwise
        for (test, body) in branches where try eval(test, scope).isTruthy {
            taken = body
            break
        }
        return try execNested(taken, scope, location)
    }

    /// `with` and `generation`: a body in a scope of its own.
    @inline(never)
    private func execScoped(_ node: JinjaNode, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaFlow {
        switch node {
        case let .with(assignments, body, location):
            let inner = JinjaScope(parent: scope)
            for (target, value) in assignments {
                try assign(target, try eval(value, inner), inner, location)
            }
            return try execNested(body, inner, location)
        case let .generation(body, location):
            _ = try execNested(body, JinjaScope(parent: scope), location)
            return .normal
        default:
            preconditionFailure("not a with or generation block")
        }
    }

    /// Set and filter blocks: the body's text, then the filter and the assignment or output
    /// (out of line, in `finishCapture`).
    @inline(never)
    private func execCapture(_ node: JinjaNode, _ scope: JinjaScope) throws(ChatTemplateError) {
        let text: String
        switch node {
        case let .setBlock(_, _, body, location), let .filterBlock(_, body, location):
            text = try captureNested(body, scope, location)
        default:
            preconditionFailure("not a set or filter block")
        }
        try finishCapture(node, text, scope)
    }

    @inline(never)
    private func finishCapture(_ node: JinjaNode, _ text: String, _ scope: JinjaScope) throws(ChatTemplateError) {
        switch node {
        case let .setBlock(target, filter, _, location):
            var v = JinjaValue.string(text)
            if let filter { v = try eval(filter, scope, hole: v) }
            try assign(target, v, scope, location)
        case let .filterBlock(filter, _, location):
            let v = try eval(filter, scope, hole: .string(text))
            try emit(try str(v, location), location)
        default:
            preconditionFailure("not a set or filter block")
        }
    }

    /// Runs the body of the block statement at `location`, one level deeper.
    private func execNested(_ nodes: [JinjaNode], _ scope: JinjaScope, _ location: SourceLocation) throws(ChatTemplateError) -> JinjaFlow {
        try enter(location)
        defer { depth -= 1 }
        return try exec(nodes, scope)
    }

    /// Renders the body of the set or filter block at `location` into a string of its own,
    /// in a child scope, one level deeper.
    private func captureNested(_ nodes: [JinjaNode], _ scope: JinjaScope, _ location: SourceLocation) throws(ChatTemplateError) -> String {
        try enter(location)
        defer { depth -= 1 }
        return try capture(nodes, JinjaScope(parent: scope))
    }

    @inline(never)
    private func execFor(_ node: JinjaNode, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaFlow {
        guard case let .forLoop(loop) = node else { preconditionFailure("not a for loop") }
        try enter(loop.location)
        defer { depth -= 1 }
        let state = JinjaLoop(items: try loopItems(loop, scope))
        if state.items.isEmpty {
            _ = try exec(loop.otherwise, JinjaScope(parent: scope))
            return .normal
        }
        for i in state.items.indices {
            try countIteration(loop.location)
            state.index0 = i
            let s = try loopScope(loop, state, scope)
            if try exec(loop.body, s) == .breakLoop { break }
        }
        return .normal
    }

    /// What a `for` iterates: the iterable's items, less those failing its `if`.
    @inline(never)
    private func loopItems(_ loop: JinjaForLoop, _ scope: JinjaScope) throws(ChatTemplateError) -> [JinjaValue] {
        let items = try iterate(try eval(loop.iterable, scope), loop.location)
        guard let condition = loop.condition else { return items }
        var kept: [JinjaValue] = []
        for item in items {
            try countIteration(loop.location)
            let s = JinjaScope(parent: scope)
            try assign(loop.target, item, s, loop.location)
            if try eval(condition, s).isTruthy { kept.append(item) }
        }
        return kept
    }

    /// The scope of one iteration: `loop` and the loop's target.
    @inline(never)
    private func loopScope(_ loop: JinjaForLoop, _ state: JinjaLoop, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaScope {
        let s = JinjaScope(parent: scope)
        s.variables["loop"] = .loop(state)
        try assign(loop.target, state.items[state.index0], s, loop.location)
        return s
    }

    @inline(never)
    func assign(_ target: JinjaTarget, _ value: JinjaValue, _ scope: JinjaScope, _ location: SourceLocation) throws(ChatTemplateError) {
        switch target {
        case let .name(n):
            scope.variables[n] = value
        case let .tuple(targets):
            let items = try iterate(value, location)
            guard items.count == targets.count else {
                let message = items.count < targets.count
                    ? "not enough values to unpack (expected \(targets.count), got \(items.count))"
                    : "too many values to unpack (expected \(targets.count))"
                throw .runtime(location: location, kind: "ValueError", message: message)
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope, location) }
        case let .namespaceAttribute(name, attribute):
            guard case let .namespace(ns)? = scope.lookup(name) else {
                throw .runtime(location: location, kind: "TemplateRuntimeError", message: "cannot assign attribute on non-namespace object")
            }
            try checkStorable(value, location)
            ns.attributes.set(.string(attribute), value)
            if ns.attributes.depth > limits.nesting { throw .limitExceeded(location: location, what: .nesting, limit: limits.nesting) }
        }
    }

    /// A namespace may not hold a namespace or a loop, even inside a list: that is how values
    /// could form cycles or nest without bound. No template needs it.
    private func checkStorable(_ v: JinjaValue, _ location: SourceLocation) throws(ChatTemplateError) {
        switch v {
        case .namespace, .loop:
            throw .unsupported(location: location, feature: "storing a namespace or loop object in a namespace")
        case let .list(l):
            for item in l.items { try checkStorable(item, location) }
        case let .dict(d):
            for item in d.values { try checkStorable(item, location) }
        default:
            break
        }
    }

    // MARK: Expressions

    // `eval` only enters a level and dispatches: each kind of expression has a function of its
    // own, kept out of line, so the frames on the recursion path stay small. (A debug build
    // gives a function a stack slot for every local and temporary of every branch; one
    // `eval` holding all of these took 15 KB a level.) The nesting bound bounds the levels;
    // this bounds the bytes per level (see the 512 KiB stack test).

    /// How `eval` evaluates one kind of expression.
    private typealias Evaluator = (JinjaRenderer, JinjaExpr, JinjaScope, JinjaValue?) throws(ChatTemplateError) -> JinjaValue

    func eval(_ e: JinjaExpr, _ scope: JinjaScope, hole: JinjaValue? = nil) throws(ChatTemplateError) -> JinjaValue {
        try enter(e.location)
        defer { depth -= 1 }
        // One call through a function value rather than a call per kind: one result slot.
        let evaluate: Evaluator
        switch e.kind {
        case .constant, .name: evaluate = { r, e, s, _ in r.evalLeaf(e, s) }
        case .list, .tuple: evaluate = { r, e, s, _ throws(ChatTemplateError) in try r.evalList(e, s) }
        case .dict: evaluate = { r, e, s, _ throws(ChatTemplateError) in try r.evalDict(e, s) }
        case .attribute: evaluate = { r, e, s, _ throws(ChatTemplateError) in try r.evalAttribute(e, s) }
        case .item: evaluate = { r, e, s, _ throws(ChatTemplateError) in try r.evalItem(e, s) }
        case .slice: evaluate = { r, e, s, _ throws(ChatTemplateError) in try r.evalSlice(e, s) }
        case .call: evaluate = { r, e, s, _ throws(ChatTemplateError) in try r.evalCall(e, s) }
        case .filter, .test: evaluate = { r, e, s, hole throws(ChatTemplateError) in try r.evalFilterOrTest(e, s, hole) }
        case .not, .negative, .positive: evaluate = { r, e, s, _ throws(ChatTemplateError) in try r.evalUnary(e, s) }
        case .binary: evaluate = { r, e, s, _ throws(ChatTemplateError) in try r.evalBinary(e, s) }
        case .compare: evaluate = { r, e, s, _ throws(ChatTemplateError) in try r.evalCompare(e, s) }
        case .and, .or: evaluate = { r, e, s, _ throws(ChatTemplateError) in try r.evalLogic(e, s) }
        case .conditional: evaluate = { r, e, s, _ throws(ChatTemplateError) in try r.evalConditional(e, s) }
        }
        return try evaluate(self, e, scope, hole)
    }

    @inline(never)
    private func evalLeaf(_ e: JinjaExpr, _ scope: JinjaScope) -> JinjaValue {
        switch e.kind {
        case let .constant(c):
            switch c {
            case .none: return .none
            case let .bool(b): return .bool(b)
            case let .int(i): return .int(i)
            case let .float(f): return .float(f)
            case let .string(s): return .string(s)
            }
        case let .name(n):
            if let v = scope.lookup(n) { return v }
            if Self.globalNames.contains(n) { return .callable(.global(n)) }
            return .undefined("'\(n)' is undefined")
        default:
            preconditionFailure("not a leaf")
        }
    }

    /// `[a, b]`, `(a, b)`.
    @inline(never)
    private func evalList(_ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        let items: [JinjaExpr]
        switch e.kind {
        case let .list(i), let .tuple(i): items = i
        default: preconditionFailure("not a list or tuple")
        }
        let values = try evalAll(items, scope)
        if case .tuple = e.kind { return try makeList(values, isTuple: true, e.location) }
        return try makeList(values, e.location)
    }

    /// `{k: v, …}`.
    @inline(never)
    private func evalDict(_ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        guard case let .dict(items) = e.kind else { preconditionFailure("not a dict") }
        // As in Python, every key and value is evaluated before the dict is built.
        var pairs: [JinjaValue] = []
        pairs.reserveCapacity(2 * items.count)
        for (k, v) in items {
            pairs.append(try eval(k, scope))
            pairs.append(try eval(v, scope))
        }
        return try makeDict(pairs: pairs, e.location)
    }

    /// `x.name`.
    @inline(never)
    private func evalAttribute(_ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        guard case let .attribute(base, name) = e.kind else { preconditionFailure("not an attribute") }
        return try getAttribute(try eval(base, scope), name, e.location)
    }

    /// `x[key]`.
    @inline(never)
    private func evalItem(_ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        guard case let .item(base, key) = e.kind else { preconditionFailure("not an item") }
        let b = try eval(base, scope)
        return try getItem(b, try eval(key, scope), e.location)
    }

    /// `x[a:b:c]`.
    @inline(never)
    private func evalSlice(_ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        guard case let .slice(base, _, _, _) = e.kind else { preconditionFailure("not a slice") }
        return try evalSliceBounds(of: try eval(base, scope), e, scope)
    }

    /// The slice `e` of `base`, evaluating the bounds (out of line: the base's path stays small).
    @inline(never)
    private func evalSliceBounds(of base: JinjaValue, _ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        guard case let .slice(_, start, stop, step) = e.kind else { preconditionFailure("not a slice") }
        var bounds: [JinjaValue?] = []
        for bound in [start, stop, step] {
            if let bound { bounds.append(try eval(bound, scope)) } else { bounds.append(nil) }
        }
        return try slice(base, bounds[0], bounds[1], bounds[2], e.location)
    }

    @inline(never)
    private func evalCall(_ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        guard case let .call(callee, arguments) = e.kind else { preconditionFailure("not a call") }
        let f = try eval(callee, scope)
        return try call(f, try evalArguments(arguments, scope), e.location)
    }

    /// `x | name(…)` (the operand, when nil, is `hole`: a filter or set block's text) and
    /// `x is name(…)`.
    @inline(never)
    private func evalFilterOrTest(_ e: JinjaExpr, _ scope: JinjaScope, _ hole: JinjaValue?) throws(ChatTemplateError) -> JinjaValue {
        switch e.kind {
        case let .filter(operand, name, arguments):
            let value: JinjaValue
            if let operand {
                value = try eval(operand, scope, hole: hole)
            } else {
                value = hole ?? .undefined("no value to filter")
            }
            return try applyFilter(name, value, try evalArguments(arguments, scope), e.location)
        case let .test(operand, name, arguments):
            let value = try eval(operand, scope)
            return .bool(try applyTest(name, value, try evalArguments(arguments, scope), e.location))
        default:
            preconditionFailure("not a filter or test")
        }
    }

    @inline(never)
    private func evalUnary(_ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        let at = e.location
        switch e.kind {
        case let .not(x):
            return .bool(!(try eval(x, scope).isTruthy))
        case let .negative(x), let .positive(x):
            let v = try eval(x, scope)
            if case let .undefined(u) = v { throw undefinedError(u, at) }
            let negate: Bool
            if case .negative = e.kind { negate = true } else { negate = false }
            switch v.number {
            case let .int(i)?:
                guard negate else { return .int(i) }
                guard i != .min else { throw .unsupported(location: at, feature: "integers beyond 64 bits") }
                return .int(-i)
            case let .float(f)?: return .float(negate ? -f : f)
            case nil: throw typeError("bad operand type for unary \(negate ? "-" : "+"): '\(v.typeName)'", at)
            }
        default:
            preconditionFailure("not a unary operator")
        }
    }

    /// Arithmetic and `~`.
    @inline(never)
    private func evalBinary(_ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        guard case let .binary(op, l, r) = e.kind else { preconditionFailure("not a binary operator") }
        let a = try eval(l, scope)
        return try binary(op, a, try eval(r, scope), e.location)
    }

    /// Comparisons, chained as in Python (`a < b < c`).
    @inline(never)
    private func evalCompare(_ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        guard case let .compare(first, ops) = e.kind else { preconditionFailure("not a comparison") }
        var left = try eval(first, scope)
        for (op, operand, location) in ops {
            let right = try eval(operand, scope)
            guard try compare(op, left, right, location) else { return .bool(false) }
            left = right
        }
        return .bool(true)
    }

    /// `and`, `or`: the right operand only if the left does not decide.
    @inline(never)
    private func evalLogic(_ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        let l: JinjaExpr
        let r: JinjaExpr
        let isAnd: Bool
        switch e.kind {
        case let .and(a, b): (l, r, isAnd) = (a, b, true)
        case let .or(a, b): (l, r, isAnd) = (a, b, false)
        default: preconditionFailure("not and or or")
        }
        let a = try eval(l, scope)
        return a.isTruthy == isAnd ? try eval(r, scope) : a
    }

    /// The inline `a if b else c`: only the branch taken is evaluated.
    @inline(never)
    private func evalConditional(_ e: JinjaExpr, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaValue {
        guard case let .conditional(test, then, otherwise) = e.kind else { preconditionFailure("not an inline if") }
        if try eval(test, scope).isTruthy { return try eval(then, scope) }
        if let otherwise { return try eval(otherwise, scope) }
        return .undefined("the inline if-expression on line \(e.location.line) evaluated to false and no else section was defined.")
    }

    private func evalArguments(_ a: JinjaArguments, _ scope: JinjaScope) throws(ChatTemplateError) -> JinjaCallArguments {
        var out = JinjaCallArguments()
        if !a.positional.isEmpty { out.positional = try evalAll(a.positional, scope) }
        if !a.keyword.isEmpty { out.keyword = try evalKeywords(a.keyword, scope) }
        return out
    }

    @inline(never)
    private func evalAll(_ expressions: [JinjaExpr], _ scope: JinjaScope) throws(ChatTemplateError) -> [JinjaValue] {
        var values: [JinjaValue] = []
        values.reserveCapacity(expressions.count)
        for e in expressions { values.append(try eval(e, scope)) }
        return values
    }

    @inline(never)
    private func evalKeywords(_ keywords: [(name: String, value: JinjaExpr)], _ scope: JinjaScope) throws(ChatTemplateError) -> [(name: String, value: JinjaValue)] {
        var values: [(name: String, value: JinjaValue)] = []
        values.reserveCapacity(keywords.count)
        for (name, e) in keywords { values.append((name, try eval(e, scope))) }
        return values
    }

    // MARK: Operators

    @inline(never)
    func binary(_ op: JinjaBinaryOperator, _ a: JinjaValue, _ b: JinjaValue, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        if op == .concat {
            let x = try str(a, at)
            let y = try str(b, at)
            try checkStringSize(x.utf8.count + y.utf8.count, at)
            return try makeString(x + y, at)
        }
        if case let .undefined(u) = a { throw undefinedError(u, at) }
        if case let .undefined(u) = b { throw undefinedError(u, at) }
        let unsupported = typeError("unsupported operand type(s) for \(op.rawValue): '\(a.typeName)' and '\(b.typeName)'", at)
        if let x = a.number, let y = b.number { return try arithmetic(op, x, y, at) }
        switch (op, a, b) {
        case let (.add, .string(x), .string(y)):
            try checkStringSize(x.utf8.count + y.utf8.count, at)
            return try makeString(x + y, at)
        case (.add, .string, _):
            throw typeError("can only concatenate str (not \"\(b.typeName)\") to str", at)
        case let (.add, .list(x), .list(y)) where x.isTuple == y.isTuple:
            try checkListSize(x.items.count + y.items.count, at)
            return try makeList(x.items + y.items, isTuple: x.isTuple, at)
        case let (.add, .list(x), _):
            throw typeError("can only concatenate \(x.isTuple ? "tuple" : "list") (not \"\(b.typeName)\") to \(x.isTuple ? "tuple" : "list")", at)
        case (.multiply, .string, _), (.multiply, .list, _), (.multiply, _, .string), (.multiply, _, .list):
            let (sequence, count) = a.integer != nil ? (b, a.integer!) : (a, b.integer)
            guard let count else { throw typeError("can't multiply sequence by non-int of type '\(b.typeName)'", at) }
            let n = max(0, count)
            switch sequence {
            case let .string(s):
                let (bytes, overflow) = s.utf8.count.multipliedReportingOverflow(by: n)
                if overflow { throw .limitExceeded(location: at, what: .stringBytes, limit: limits.stringBytes) }
                try checkStringSize(bytes, at)
                return try makeString(String(repeating: s, count: n), at)
            case let .list(l):
                let (total, overflow) = l.items.count.multipliedReportingOverflow(by: n)
                if overflow { throw .limitExceeded(location: at, what: .listElements, limit: limits.listElements) }
                try checkListSize(total, at)
                var items: [JinjaValue] = []
                items.reserveCapacity(total)
                for _ in 0..<n { items += l.items }
                return try makeList(items, isTuple: l.isTuple, at)
            default:
                throw unsupported
            }
        case let (.modulo, .string(format), _):
            return try makeString(try percentFormat(format, b, at), at)
        default:
            throw unsupported
        }
    }

    private func arithmetic(_ op: JinjaBinaryOperator, _ x: JinjaNumber, _ y: JinjaNumber, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        let overflow = ChatTemplateError.unsupported(location: at, feature: "integers beyond 64 bits")
        let zero = { (m: String) in ChatTemplateError.runtime(location: at, kind: "ZeroDivisionError", message: m) }
        if case let .int(p) = x, case let .int(q) = y {
            switch op {
            case .add:
                let (r, o) = p.addingReportingOverflow(q)
                if o { throw overflow }
                return .int(r)
            case .subtract:
                let (r, o) = p.subtractingReportingOverflow(q)
                if o { throw overflow }
                return .int(r)
            case .multiply:
                let (r, o) = p.multipliedReportingOverflow(by: q)
                if o { throw overflow }
                return .int(r)
            case .divide:
                guard q != 0 else { throw zero("division by zero") }
                return .float(Double(p) / Double(q))
            case .floorDivide, .modulo:
                guard q != 0 else { throw zero(op == .modulo ? "integer modulo by zero" : "integer division or modulo by zero") }
                if p == .min && q == -1 { throw overflow }
                var quotient = p / q
                var remainder = p % q
                if remainder != 0 && ((remainder < 0) != (q < 0)) {
                    quotient -= 1
                    remainder += q
                }
                return .int(op == .modulo ? remainder : quotient)
            case .power:
                if q < 0 {
                    guard p != 0 else { throw zero("0.0 cannot be raised to a negative power") }
                    return .float(Foundation.pow(Double(p), Double(q)))
                }
                var result = 1
                var base = p
                var exponent = q
                while exponent > 0 {
                    if exponent & 1 == 1 {
                        let (r, o) = result.multipliedReportingOverflow(by: base)
                        if o { throw overflow }
                        result = r
                    }
                    exponent >>= 1
                    if exponent > 0 {
                        let (b2, o) = base.multipliedReportingOverflow(by: base)
                        if o { throw overflow }
                        base = b2
                    }
                }
                return .int(result)
            case .concat:
                preconditionFailure("concat is handled by binary()")
            }
        }
        let p = x.double
        let q = y.double
        switch op {
        case .add: return .float(p + q)
        case .subtract: return .float(p - q)
        case .multiply: return .float(p * q)
        case .divide:
            guard q != 0 else { throw zero("float division by zero") }
            return .float(p / q)
        case .floorDivide:
            guard q != 0 else { throw zero("float floor division by zero") }
            return .float(pyFloatDivMod(p, q).quotient)
        case .modulo:
            guard q != 0 else { throw zero("float modulo") }
            return .float(pyFloatDivMod(p, q).remainder)
        case .power:
            if p == 0 && q < 0 { throw zero("0.0 cannot be raised to a negative power") }
            let r = Foundation.pow(p, q)
            if r.isNaN && !p.isNaN && !q.isNaN {
                throw .runtime(location: at, kind: "ValueError", message: "a negative number raised to a fractional power is complex")
            }
            return .float(r)
        case .concat:
            preconditionFailure("concat is handled by binary()")
        }
    }

    @inline(never)
    func compare(_ op: JinjaCompareOperator, _ a: JinjaValue, _ b: JinjaValue, _ at: SourceLocation) throws(ChatTemplateError) -> Bool {
        switch op {
        case .equal: return pyEqual(a, b)
        case .notEqual: return !pyEqual(a, b)
        case .contains: return try contains(b, a, at)
        case .notContains: return !(try contains(b, a, at))
        default:
            if case let .undefined(u) = a { throw undefinedError(u, at) }
            if case let .undefined(u) = b { throw undefinedError(u, at) }
            guard let c = pyCompare(a, b) else {
                throw typeError("'\(op.rawValue)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'", at)
            }
            if isUnordered(a, b) { return false }
            switch op {
            case .less: return c < 0
            case .lessOrEqual: return c <= 0
            case .greater: return c > 0
            default: return c >= 0
            }
        }
    }

    /// Python `item in container`.
    func contains(_ container: JinjaValue, _ item: JinjaValue, _ at: SourceLocation) throws(ChatTemplateError) -> Bool {
        switch container {
        case let .string(s):
            guard case let .string(needle) = item else {
                throw typeError("'in <string>' requires string as left operand, not \(item.typeName)", at)
            }
            return s.pyContains(needle)
        case let .list(l):
            return l.items.contains { pyEqual($0, item) }
        case let .dict(d):
            guard JinjaKey(item) != nil else { throw typeError("unhashable type: '\(item.typeName)'", at) }
            return d[item] != nil
        case .undefined:
            return false
        default:
            throw typeError("argument of type '\(container.typeName)' is not iterable", at)
        }
    }

    /// Python `list(v)` for the iterables templates use.
    @inline(never)
    func iterate(_ v: JinjaValue, _ at: SourceLocation) throws(ChatTemplateError) -> [JinjaValue] {
        switch v {
        case let .list(l): return l.items
        case let .string(s): return s.unicodeScalars.map { .string(String(Character($0))) }
        case let .dict(d): return d.keys
        case .undefined: return []
        default: throw typeError("'\(v.typeName)' object is not iterable", at)
        }
    }

    // MARK: Attributes, items, slices

    static let stringMethods: Set<String> = [
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format", "format_map",
        "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
        "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans", "partition",
        "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split",
        "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill",
    ]
    static let dictMethods: Set<String> = ["clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values"]
    static let listMethods: Set<String> = ["append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort"]
    /// What jinja2's ImmutableSandboxedEnvironment refuses (`modifies_known_mutable`).
    static let mutatingMethods: [String: Set<String>] = [
        "dict": ["clear", "pop", "popitem", "setdefault", "update"],
        "list": ["append", "reverse", "insert", "sort", "extend", "remove"],
    ]

    /// An existing Python attribute of `base` (a bound method), the sandbox's refusal, or nil.
    private func pythonAttribute(_ base: JinjaValue, _ name: String) -> JinjaValue? {
        let methods: Set<String>
        switch base {
        case .string: methods = Self.stringMethods
        case .dict: methods = Self.dictMethods
        case let .list(l): methods = l.isTuple ? ["count", "index"] : Self.listMethods
        default: return nil
        }
        guard methods.contains(name) else { return nil }
        if Self.mutatingMethods[base.typeName]?.contains(name) == true {
            return .undefined(JinjaUndefined(message: "access to attribute '\(name)' of '\(base.typeName)' object is unsafe.", errorKind: "SecurityError"))
        }
        return .callable(.method(receiver: base, name: name))
    }

    private func objectName(_ v: JinjaValue) -> String {
        if case .none = v { return "None" }
        return "\(v.typeName) object"
    }

    private func missingAttribute(_ base: JinjaValue, _ name: String) -> JinjaValue {
        .undefined("'\(objectName(base))' has no attribute '\(name)'")
    }

    /// `base.name`: jinja2's sandboxed `getattr` (attribute, then item).
    @inline(never)
    func getAttribute(_ base: JinjaValue, _ name: String, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        switch base {
        case let .undefined(u):
            throw undefinedError(u, at)
        case let .dict(d):
            if let a = pythonAttribute(base, name) { return a }
            return d[name] ?? missingAttribute(base, name)
        case let .namespace(ns):
            return ns.attributes[name] ?? missingAttribute(base, name)
        case let .loop(l):
            return loopAttribute(l, name)
        default:
            return pythonAttribute(base, name) ?? missingAttribute(base, name)
        }
    }

    private func loopAttribute(_ l: JinjaLoop, _ name: String) -> JinjaValue {
        let n = l.items.count
        let i = l.index0
        switch name {
        case "index": return .int(i + 1)
        case "index0": return .int(i)
        case "revindex": return .int(n - i)
        case "revindex0": return .int(n - i - 1)
        case "first": return .bool(i == 0)
        case "last": return .bool(i == n - 1)
        case "length": return .int(n)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return i > 0 ? l.items[i - 1] : .undefined("there is no previous item")
        case "nextitem": return i + 1 < n ? l.items[i + 1] : .undefined("there is no next item")
        case "cycle": return .callable(.method(receiver: .loop(l), name: "cycle"))
        case "changed":
            return .undefined(JinjaUndefined(message: "loop.changed is not supported by Rill's Jinja subset", errorKind: "Unsupported"))
        default: return .undefined("'LoopContext object' has no attribute '\(name)'")
        }
    }

    /// `base[key]`: jinja2's sandboxed `getitem` (item, then attribute for a string key).
    @inline(never)
    func getItem(_ base: JinjaValue, _ key: JinjaValue, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        if case let .undefined(u) = base { throw undefinedError(u, at) }
        var found: JinjaValue?
        switch base {
        case let .list(l):
            if let i = key.integer {
                let j = i < 0 ? i + l.items.count : i
                if j >= 0 && j < l.items.count { found = l.items[j] }
            }
        case let .string(s):
            if let i = key.integer {
                let scalars = s.unicodeScalars
                let n = scalars.count
                let j = i < 0 ? i + n : i
                if j >= 0 && j < n { found = .string(String(Character(scalars[scalars.index(scalars.startIndex, offsetBy: j)]))) }
            }
        case let .dict(d):
            found = d[key]
        default:
            break
        }
        if let found { return found }
        if case let .string(name) = key {
            if case .loop = base { return try getAttribute(base, name, at) }
            if case let .namespace(ns) = base, let v = ns.attributes[name] { return v }
            if let a = pythonAttribute(base, name) { return a }
            return missingAttribute(base, name)
        }
        let keyText = (try? repr(key, at)) ?? key.typeName
        return .undefined("\(objectName(base)) has no element \(keyText)")
    }

    /// Python slicing `base[start:stop:step]` of a list, tuple or string.
    @inline(never)
    func slice(_ base: JinjaValue, _ start: JinjaValue?, _ stop: JinjaValue?, _ step: JinjaValue?, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        if case let .undefined(u) = base { throw undefinedError(u, at) }
        func index(_ v: JinjaValue?) throws(ChatTemplateError) -> Int? {
            guard let v else { return nil }
            if case .none = v { return nil }
            if case let .undefined(u) = v { throw undefinedError(u, at) }
            guard let i = v.integer else {
                throw typeError("slice indices must be integers or None or have an __index__ method", at)
            }
            return i
        }
        let stepValue = try index(step) ?? 1
        guard stepValue != 0 else { throw .runtime(location: at, kind: "ValueError", message: "slice step cannot be zero") }
        let a = try index(start)
        let b = try index(stop)
        func indices(_ n: Int) -> [Int] {
            func clamp(_ v: Int?, _ dflt: Int) -> Int {
                guard var x = v else { return dflt }
                if x < 0 { x += n }
                return stepValue > 0 ? min(max(x, 0), n) : min(max(x, -1), n - 1)
            }
            let lo = clamp(a, stepValue > 0 ? 0 : n - 1)
            let hi = clamp(b, stepValue > 0 ? n : -1)
            return Array(stride(from: lo, to: hi, by: stepValue))
        }
        switch base {
        case let .list(l):
            return try makeList(indices(l.items.count).map { l.items[$0] }, isTuple: l.isTuple, at)
        case let .string(s):
            let scalars = s.scalarArray
            return try makeString(String(scalars: indices(scalars.count).map { scalars[$0] }), at)
        default:
            // jinja2's getitem swallows the TypeError of an unsliceable object.
            return .undefined("\(objectName(base)) has no element slice")
        }
    }

    // MARK: Calls

    func call(_ f: JinjaValue, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        switch f {
        case let .undefined(u):
            if u.errorKind == "Unsupported" { throw .unsupported(location: at, feature: "loop.changed") }
            throw undefinedError(u, at)
        case let .callable(c):
            switch c {
            case let .global(name): return try callGlobal(name, args, at)
            case let .macro(m): return try callMacro(m, args, at)
            case let .method(receiver, name): return try callMethod(receiver, name, args, at)
            }
        default:
            throw typeError("'\(f.typeName)' object is not callable", at)
        }
    }

    private func callMacro(_ m: JinjaMacro, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        try countIteration(at)
        try enter(at)
        defer { depth -= 1 }
        let scope = try macroScope(m, args, at)
        return try makeString(try capture(m.body, scope), at)
    }

    /// A scope for a call of `m`, with its parameters bound to `args` or their defaults.
    @inline(never)
    private func macroScope(_ m: JinjaMacro, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaScope {
        if args.positional.count > m.parameters.count {
            throw typeError("macro '\(m.name)' takes not more than \(m.parameters.count) argument(s)", at)
        }
        let scope = JinjaScope(parent: root)
        var given: [String: JinjaValue] = [:]
        for (i, v) in args.positional.enumerated() { given[m.parameters[i].name] = v }
        for (name, v) in args.keyword {
            guard m.parameters.contains(where: { $0.name == name }) else {
                throw typeError("macro '\(m.name)' takes no keyword argument '\(name)'", at)
            }
            guard given[name] == nil else { throw typeError("macro '\(m.name)' got multiple values for argument '\(name)'", at) }
            given[name] = v
        }
        for (name, defaultValue) in m.parameters {
            if let v = given[name] {
                scope.variables[name] = v
            } else if let defaultValue {
                scope.variables[name] = try eval(defaultValue, scope)
            } else {
                scope.variables[name] = .undefined("parameter '\(name)' was not provided")
            }
        }
        return scope
    }

    @inline(never)
    private func callGlobal(_ name: String, _ args: JinjaCallArguments, _ at: SourceLocation) throws(ChatTemplateError) -> JinjaValue {
        switch name {
        case "raise_exception":
            let bound = try args.bind(["message"], name, at: at)
            throw .raised(location: at, message: try str(bound[0] ?? .undefined("missing message"), at))
        case "strftime_now":
            let bound = try args.bind(["format"], name, at: at)
            guard case let .string(format)? = bound[0] else { throw typeError("strftime() argument 1 must be str", at) }
            return try makeString(pyStrftime(format, now), at)
        case "range":
            guard args.keyword.isEmpty else { throw typeError("range() takes no keyword arguments", at) }
            var ints: [Int] = []
            for v in args.positional {
                guard let i = v.integer else { throw typeError("'\(v.typeName)' object cannot be interpreted as an integer", at) }
                ints.append(i)
            }
            let (start, stop, step): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, step) = (0, ints[0], 1)
            case 2: (start, stop, step) = (ints[0], ints[1], 1)
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw typeError("range expected 1 to 3 arguments, got \(ints.count)", at)
            }
            guard step != 0 else { throw .runtime(location: at, kind: "ValueError", message: "range() arg 3 must not be zero") }
            let count = step > 0 ? (stop > start ? (stop - start - 1) / step + 1 : 0) : (start > stop ? (start - stop - 1) / -step + 1 : 0)
            // jinja2's sandbox refuses ranges above MAX_RANGE.
            guard count <= 100_000 else {
                throw .runtime(location: at, kind: "OverflowError",
                               message: "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).")
            }
            try charge(count, at)
            var items: [JinjaValue] = []
            items.reserveCapacity(count)
            var v = start
            for _ in 0..<count {
                items.append(.int(v))
                v += step
            }
            return try makeList(items, at)
        case "dict", "namespace":
            var d = JinjaDict()
            if args.positional.count > 1 { throw typeError("\(name) expected at most 1 argument, got \(args.positional.count)", at) }
            if let first = args.positional.first {
                switch first {
                case let .dict(source): d = source
                default:
                    for pair in try iterate(first, at) {
                        let kv = try iterate(pair, at)
                        guard kv.count == 2 else {
                            throw .runtime(location: at, kind: "ValueError", message: "dictionary update sequence element has length \(kv.count); 2 is required")
                        }
                        guard d.set(kv[0], kv[1]) else { throw typeError("unhashable type: '\(kv[0].typeName)'", at) }
                    }
                }
            }
            for (k, v) in args.keyword { d.set(.string(k), v) }
            if name == "dict" { return try makeDict(d, at) }
            let ns = JinjaNamespace()
            for v in d.values { try checkStorable(v, at) }
            ns.attributes = d
            if d.depth > limits.nesting { throw .limitExceeded(location: at, what: .nesting, limit: limits.nesting) }
            return .namespace(ns)
        default:
            throw .unsupported(location: at, feature: "the global '\(name)'")
        }
    }
}

/// Python's float `divmod`: the quotient floored, the remainder with the divisor's sign.
func pyFloatDivMod(_ a: Double, _ b: Double) -> (quotient: Double, remainder: Double) {
    var mod = fmod(a, b)
    var div = (a - mod) / b
    if mod != 0 {
        if (b < 0) != (mod < 0) {
            mod += b
            div -= 1
        }
    } else {
        mod = b < 0 ? -0.0 : 0.0
    }
    var floordiv: Double
    if div != 0 {
        floordiv = div.rounded(.down)
        if div - floordiv > 0.5 { floordiv += 1 }
    } else {
        floordiv = a / b < 0 ? -0.0 : 0.0
    }
    return (floordiv, mod)
}
