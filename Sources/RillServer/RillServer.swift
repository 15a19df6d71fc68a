import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import RillRuntime
import RillTokenizer
import ServiceLifecycle

/// How `rill serve` runs.
public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Sessions made at start: requests generate in parallel on at most this many.
    public var slots = 1
    /// Kernel threads per slot (default: the cores divided among the slots).
    public var threadsPerSlot: Int?
    public var chunk = 128
    /// Tokens per request, prompt and completion together; for SUBLLM/LLaMA also the keys and
    /// values each slot reserves. Default: the model's trained context, 4096 for recurrent
    /// models (whose state does not grow: the bound only keeps one request from holding a slot
    /// for ever).
    public var context: Int?
    /// Bytes of session states kept at turn boundaries.
    public var cacheBytes = 256 << 20
    /// Requests waiting for a slot before the server answers 503.
    public var queueLength = 16
    public var apiKey: String?
    public var maxBodyBytes = 1 << 20
    /// Seconds a connection may sit idle, or stall while sending a request, before it is closed.
    public var idleTimeoutSeconds = 30
    /// Connections accepted at once; further ones wait in the listen backlog.
    public var maxConnections = 2048
    /// Connections the kernel completes and holds for accepting (Linux caps it at
    /// `net.core.somaxconn`). A burst beyond it is dropped at the SYN and, when SYN cookies
    /// let a handshake complete anyway, can be reset: 256, Hummingbird's default, lost one of
    /// 400 requests arriving among 1,000 idle connections.
    public var backlog = 4096
    /// The name `/v1/models` lists and requests may give (default: the file's name).
    public var modelName: String?
    /// A Jinja chat template replacing the checkpoint's.
    public var chatTemplate: String?

    public init() {}
}

/// The OpenAI-compatible HTTP server over one model (`rill serve`).
///
/// Memory is fixed at start: the mapped model, `slots` sessions (state and scratch, or the
/// keys and values reserved for the context) and the snapshot cache's budget. Nothing grows
/// with requests: a request beyond the slots waits in a bounded queue, beyond it gets 503.
public final class RillServer: Sendable {
    let engine: Engine
    let options: ServerOptions
    let template: ChatTemplate
    let templateSource: String
    let bosToken: String
    let eosToken: String
    let logger: Logger
    let created = Int(Date().timeIntervalSince1970)
    let fingerprint: String

    public init(model: Model, path: String, options: ServerOptions, logger: Logger) throws {
        guard model.tokenizer != nil else {
            throw ServerError.noTokenizer(path: path)
        }
        self.options = options
        self.logger = logger
        let name = options.modelName ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = options.threadsPerSlot ?? max(1, cores / max(1, options.slots))
        let context = options.context ?? model.network.defaultContext ?? 4096
        engine = Engine(
            model: model, modelName: name, slots: options.slots, threadsPerSlot: threads, chunk: options.chunk,
            context: model.network.defaultContext == nil ? nil : context, queueLimit: options.queueLength,
            cacheBytes: options.cacheBytes, metrics: ServerMetrics())
        maxRequestTokens = context
        let (source, origin) = try Self.chatTemplateSource(model: model, override: options.chatTemplate)
        templateSource = origin
        template = try source.map { try ChatTemplate(source: $0) } ?? .plain
        bosToken = model.file.metadata.bosTokenID.flatMap { id in model.tokenizer?.decode([Int32(id)], skippingSpecialTokens: false) } ?? ""
        eosToken = model.file.metadata.eosTokenID.flatMap { id in model.tokenizer?.decode([Int32(id)], skippingSpecialTokens: false) } ?? ""
        fingerprint = "rill-" + String(model.file.fingerprint, radix: 16)
    }

    /// Tokens one request may use, prompt and completion together.
    let maxRequestTokens: Int

    /// The template: `--chat-template`, else the checkpoint's (`tokenizer_config.json`'s
    /// `chat_template`, stored by the converter), else ``ChatTemplate/plain``.
    static func chatTemplateSource(model: Model, override: String?) throws -> (String?, String) {
        if let override { return (override, "--chat-template") }
        if let t = model.file.metadata.tokenizer?.chatTemplate { return (t, "the checkpoint's tokenizer_config.json") }
        return (nil, "the plain template (the checkpoint has none)")
    }

    /// One line per fact the operator needs: model, slots, memory it will use, where it listens.
    public var startupSummary: String {
        let m = engine.model
        let state = engine.stateBytesPerSlot
        var s = "model       \(engine.modelName) (\(m.config.architecture), \(formatBytes(Int(m.file.header.fileSize))) mapped)\n"
        s += "slots       \(engine.slotCount) × \(formatBytes(state)) state" + (engine.context.map { " (keys and values for \($0) positions)" } ?? "") + ", queue \(options.queueLength)\n"
        s += "snapshots   up to \(formatBytes(options.cacheBytes)) (\(formatBytes(engine.snapshotBytes)) each: \(engine.snapshotBytes > 0 ? options.cacheBytes / engine.snapshotBytes : 0) turns)\n"
        s += "memory      at most \(formatBytes(Int(m.file.header.fileSize) + engine.slotCount * state + options.cacheBytes)) + scratch, fixed from now on\n"
        s += "template    \(templateSource)\n"
        s += "limits      \(maxRequestTokens) tokens per request, body \(formatBytes(options.maxBodyBytes)), idle timeout \(options.idleTimeoutSeconds) s, \(options.maxConnections) connections\n"
        s += "listening   http://\(options.host):\(options.port)" + (options.apiKey == nil ? "" : " (API key required)") + "\n"
        return s
    }

    /// The Hummingbird application; `onRunning` gets the bound port (0 in the options picks a
    /// free one, as tests do).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router(context: RillRequestContext.self)
        router.add(middleware: ErrorMiddleware(metrics: engine.metrics))
        if let key = options.apiKey { router.add(middleware: APIKeyMiddleware(key: key)) }
        let handlers = Handlers(server: self)
        router.post("/v1/completions") { request, context in try await handlers.completion(request, context) }
        router.post("/v1/chat/completions") { request, context in try await handlers.chat(request, context) }
        router.get("/v1/models") { _, _ in try handlers.models() }
        router.get("/health") { _, _ in try await handlers.health() }
        router.get("/metrics") { _, _ in await handlers.metrics() }
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(Int64(options.idleTimeoutSeconds)))),
            configuration: .init(
                address: .hostname(options.host, port: options.port), serverName: "rill", backlog: options.backlog,
                availableConnectionsDelegate: MaximumAvailableConnections(options.maxConnections)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Serves until SIGINT or SIGTERM, then finishes the requests in flight and returns.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let group = ServiceGroup(
            configuration: .init(services: [application(onRunning: onRunning)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

public enum ServerError: Error, CustomStringConvertible {
    case noTokenizer(path: String)

    public var description: String {
        switch self {
        case let .noTokenizer(path): return "\(path): the file carries no tokenizer, which a text API needs; convert the checkpoint with its tokenizer.json"
        }
    }
}

func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n), u = 0
    while v >= 1024, u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : String(format: "%.2f %@", v, units[u])
}
