import ArgumentParser
import Foundation
import Logging
import RillRuntime
import RillServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a model over an OpenAI-compatible HTTP API (completions, chat, streaming).",
        discussion: """
            Endpoints: POST /v1/completions, POST /v1/chat/completions (stream: server-sent \
            events), GET /v1/models, GET /health, GET /metrics (Prometheus).
              rill serve model.rill --port 8080 --slots 2
              curl http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \\
                -d '{"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 32}'
            Memory is fixed at start and printed: the mapped model, --slots sessions and the \
            --cache-mb snapshot budget. After each prompt and each reply the slot's state is kept \
            (least recently used evicted), so the next turn of a conversation reads only its new \
            tokens (usage.prompt_tokens_details.cached_tokens says how many were skipped). \
            Requests beyond the slots wait in a queue of --queue; beyond it the answer is 503 \
            with Retry-After. SIGINT/SIGTERM finish the requests in flight, then exit.
            """)

    @OptionGroup var model: ModelPath

    @Option(help: "Address to bind (127.0.0.1: this machine only; 0.0.0.0: every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port (0 picks a free one).")
    var port = 8080

    @Option(help: "Sessions made at start; requests generate on this many at once.")
    var slots = 1

    @Option(help: "Requests that may wait for a slot before the server answers 503.")
    var queue = 16

    @Option(name: .customLong("ctx"), help: ArgumentHelp(
        "Tokens per request, prompt and completion together; for SUBLLM/LLaMA also the keys and values each slot reserves.",
        discussion: "Default: the model's trained context (SUBLLM/LLaMA), 4096 for recurrent models.", valueName: "N"))
    var context: Int?

    @Option(name: .customLong("cache-mb"), help: "MiB of session states kept at turn boundaries (0: none).")
    var cacheMB = 256

    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' on /v1/* (else 401).")
    var apiKey: String?

    @Option(name: .customLong("chat-template"), help: "A Jinja chat-template file replacing the checkpoint's.")
    var chatTemplate: String?

    @Option(name: .customLong("alias"), help: "The model name /v1/models lists (default: the file's name).")
    var alias: String?

    @Option(name: .customLong("max-body-kb"), help: "Largest request body, KiB (else 413).")
    var maxBodyKB = 1024

    @Option(help: "Seconds an idle or stalled connection is kept before it is closed.")
    var timeout = 30

    @Option(name: .customLong("max-connections"), help: "Connections served at once (more wait in the listen backlog).")
    var maxConnections = 2048

    @Option(help: "Connections the kernel holds waiting to be accepted (Linux caps it at net.core.somaxconn).")
    var backlog = 4096

    @Option(name: [.customShort("t"), .long], help: "Kernel threads per slot (default: the cores divided among the slots).")
    var threads: Int?

    func validate() throws {
        if slots < 1 || slots > 64 { throw ValidationError("--slots must be in 1…64") }
        if queue < 0 || queue > 10_000 { throw ValidationError("--queue must be in 0…10000") }
        if !(0...65535).contains(port) { throw ValidationError("--port must be in 0…65535") }
        if cacheMB < 0 { throw ValidationError("--cache-mb must be ≥ 0") }
        if let context, context < 2 || context > 1 << 24 { throw ValidationError("--ctx must be in 2…16777216") }
        if maxBodyKB < 1 { throw ValidationError("--max-body-kb must be ≥ 1") }
        if timeout < 1 { throw ValidationError("--timeout must be ≥ 1") }
        if backlog < 1 || backlog > 65535 { throw ValidationError("--backlog must be in 1…65535") }
    }

    func run() async throws {
        raiseOpenFileLimit()
        var options = ServerOptions()
        options.host = host
        options.port = port
        options.slots = slots
        options.queueLength = queue
        options.context = context
        options.cacheBytes = cacheMB << 20
        options.apiKey = apiKey
        options.modelName = alias
        options.maxBodyBytes = maxBodyKB << 10
        options.idleTimeoutSeconds = timeout
        options.maxConnections = maxConnections
        options.backlog = backlog
        options.threadsPerSlot = threads
        if let chatTemplate {
            guard let text = try? String(contentsOfFile: chatTemplate, encoding: .utf8) else {
                throw ValidationError("--chat-template \(chatTemplate): cannot read it as UTF-8 text")
            }
            options.chatTemplate = text
        }
        let m = try Model(path: model.path)
        var logger = Logger(label: "rill.serve")
        logger.logLevel = .notice
        let server = try RillServer(model: m, path: model.path, options: options, logger: logger)
        Terminal.errLine(server.startupSummary)
        try await server.run { port in
            Terminal.errLine("ready on port \(port)")
        }
    }
}

/// 10,000 idle clients need as many descriptors: the soft limit up to the hard one.
func raiseOpenFileLimit() {
    // Glibc imports RLIMIT_NOFILE as an enum case; the functions take its raw value.
    #if canImport(Glibc)
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    let resource = RLIMIT_NOFILE
    #endif
    var lim = rlimit()
    guard getrlimit(resource, &lim) == 0, lim.rlim_cur < lim.rlim_max else { return }
    lim.rlim_cur = lim.rlim_max
    setrlimit(resource, &lim)
}
