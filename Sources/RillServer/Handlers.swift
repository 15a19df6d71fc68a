import Foundation
import Hummingbird
import HTTPTypes
import NIOCore
import RillFormat
import RillRuntime
import RillTokenizer

/// The endpoints. Each request is decoded and checked whole before it takes a slot: a bad one
/// costs no generation.
struct Handlers: Sendable {
    let server: RillServer
    var engine: Engine { server.engine }

    // MARK: - Completions

    func completion(_ request: Request, _ context: RillRequestContext) async throws -> Response {
        let body: CompletionRequest = try await decode(request)
        try checkModel(body.model)
        let prompt: [Int32]
        switch body.prompt {
        case let .text(s): prompt = try encode(s, atStart: true)
        case let .tokens(ids):
            for t in ids where t < 0 || Int(t) >= engine.model.vocabSize {
                throw APIError.invalid("Token id \(t) in 'prompt' is outside the vocabulary (0…\(engine.model.vocabSize - 1)).", param: "prompt")
            }
            prompt = ids
        }
        let gen = try generationRequest(body.fields, prompt: prompt, channel: context.channel)
        let id = "cmpl-" + randomID()
        let stream = try await engine.generate(gen)
        if body.fields.stream == true {
            return sse { write in
                var usage: Usage?
                var started = (0, 0)
                for try await event in stream {
                    switch event {
                    case let .started(p, c): started = (p, c)
                    case let .text(t):
                        try await write(envelope(id, TextBody(text: t), nil, nil))
                    case let .finished(reason, n):
                        usage = Usage(promptTokens: started.0, completionTokens: n, cachedTokens: started.1)
                        try await write(envelope(id, TextBody(text: ""), reason, usage))
                    }
                }
            }
        }
        let (text, reason, usage) = try await collect(stream)
        return try json(envelope(id, TextBody(text: text), reason, usage))
    }

    // MARK: - Chat

    func chat(_ request: Request, _ context: RillRequestContext) async throws -> Response {
        let body: ChatCompletionRequest = try await decode(request)
        try checkModel(body.model)
        guard !body.messages.isEmpty else { throw APIError.invalid("'messages' is empty.", param: "messages") }
        let rendered: String
        do {
            rendered = try server.template.render(
                messages: body.messages, addGenerationPrompt: true, bosToken: server.bosToken, eosToken: server.eosToken)
        } catch {
            throw APIError.invalid("The chat template refused these messages: \(error)", param: "messages")
        }
        // The template writes BOS itself where the model wants it (apply_chat_template then
        // tokenises without adding special tokens).
        let prompt = try encode(rendered, atStart: false)
        let gen = try generationRequest(body.fields, prompt: prompt, channel: context.channel)
        let id = "chatcmpl-" + randomID()
        let stream = try await engine.generate(gen)
        if body.fields.stream == true {
            return sse { write in
                var started = (0, 0)
                for try await event in stream {
                    switch event {
                    case let .started(p, c):
                        started = (p, c)
                        try await write(envelope(id, DeltaBody(role: "assistant", content: ""), nil, nil))
                    case let .text(t):
                        try await write(envelope(id, DeltaBody(content: t), nil, nil))
                    case let .finished(reason, n):
                        try await write(envelope(id, DeltaBody(), reason, Usage(promptTokens: started.0, completionTokens: n, cachedTokens: started.1)))
                    }
                }
            }
        }
        let (text, reason, usage) = try await collect(stream)
        return try json(envelope(id, MessageBody(content: text), reason, usage))
    }

    /// One object of this server: one choice with `body`, and usage where given.
    private func envelope<Body: ChoiceBody>(_ id: String, _ body: Body, _ reason: FinishReason?, _ usage: Usage?) -> CompletionObject<Body> {
        CompletionObject(
            id: id, created: now(), model: engine.modelName, choices: [Choice(body: body, finishReason: reason)], usage: usage,
            systemFingerprint: server.fingerprint)
    }

    // MARK: - Small endpoints

    func models() throws -> Response {
        try json(ModelList(data: [.init(id: engine.modelName, created: server.created)]))
    }

    func health() async throws -> Response {
        struct Health: Encodable {
            let status = "ok"
            let slotsTotal: Int, slotsBusy: Int, queued: Int
            enum CodingKeys: String, CodingKey { case status, slotsTotal = "slots_total", slotsBusy = "slots_busy", queued }
        }
        return try json(Health(slotsTotal: engine.slotCount, slotsBusy: await engine.pool.busy, queued: await engine.pool.queued))
    }

    func metrics() async -> Response {
        engine.metrics.queued.set(Double(await engine.pool.queued))
        engine.metrics.cacheBytes.set(Double(engine.cache.usedBytes))
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: engine.metrics.text)))
    }

    // MARK: - Shared steps

    private func decode<T: Decodable>(_ request: Request) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: server.options.maxBodyBytes)
        } catch let e as HTTPError where e.status == .contentTooLarge {
            throw APIError.tooLarge(limit: server.options.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge(limit: server.options.maxBodyBytes)
        }
        do {
            let data = Data(buffer: buffer)
            try checkJSONBytes(data)  // Swift 6.0's JSONDecoder traps on some bad keys
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            let (message, param) = describeRequestError(error)
            throw APIError.invalid(message, param: param)
        }
    }

    private func checkModel(_ name: String?) throws {
        // Clients send whatever model name they were configured with; an empty one, this
        // server's name or its file's are accepted.
        guard let name, !name.isEmpty, name != engine.modelName else { return }
        throw APIError.modelNotFound(name, available: engine.modelName)
    }

    private func encode(_ text: String, atStart: Bool) throws -> [Int32] {
        do {
            return try engine.model.encode(text, atStart: atStart)
        } catch {
            throw APIError.invalid("The prompt could not be tokenised: \(error)", param: "prompt")
        }
    }

    private func generationRequest(_ f: GenerationFields, prompt: [Int32], channel: any Channel) throws -> GenerationRequest {
        if let n = f.n, n != 1 { throw APIError.invalid("Only n = 1 is supported (one completion per request).", param: "n") }
        if f.logprobs?.on == true { throw APIError.invalid("logprobs are not supported.", param: "logprobs") }
        guard !prompt.isEmpty else { throw APIError.invalid("The prompt is empty.", param: "prompt") }
        let limit = server.maxRequestTokens
        guard prompt.count < limit else {
            throw APIError.invalid("The prompt has \(prompt.count) tokens; this server takes at most \(limit) per request (--ctx).", param: "prompt", code: "context_length_exceeded")
        }
        let maxTokens = f.maxTokens ?? (limit - prompt.count)
        guard maxTokens > 0 else { throw APIError.invalid("max_tokens must be at least 1.", param: "max_tokens") }
        guard prompt.count + maxTokens <= limit else {
            throw APIError.invalid(
                "The prompt (\(prompt.count) tokens) and max_tokens (\(maxTokens)) exceed this server's \(limit) tokens per request (--ctx).",
                param: "max_tokens", code: "context_length_exceeded")
        }
        var s = SamplerSettings()
        s.temperature = Float(f.temperature ?? 1)
        s.topP = Float(f.topP ?? 1)
        s.topK = 0
        s.repeatPenalty = 1
        guard s.temperature >= 0, s.temperature <= 2 else { throw APIError.invalid("temperature must be in 0…2.", param: "temperature") }
        guard s.topP > 0, s.topP <= 1 else { throw APIError.invalid("top_p must be in (0, 1].", param: "top_p") }
        s.seed = f.seed.map { UInt64(bitPattern: $0) } ?? UInt64.random(in: 0...UInt64.max)
        let stops = f.stop?.values ?? []
        guard stops.count <= 4 else { throw APIError.invalid("At most 4 stop sequences.", param: "stop") }
        return GenerationRequest(
            prompt: prompt, maxTokens: maxTokens, sampling: s, stop: stops, ignoreEOS: f.ignoreEOS ?? false,
            isCancelled: { !channel.isActive || Task.isCancelled })
    }

    private func collect(_ stream: AsyncThrowingStream<GenerationEvent, Error>) async throws -> (String, FinishReason, Usage) {
        var text = "", reason = FinishReason.length, usage = Usage(promptTokens: 0, completionTokens: 0, cachedTokens: 0)
        var started = (0, 0)
        for try await event in stream {
            switch event {
            case let .started(p, c): started = (p, c)
            case let .text(t): text += t
            case let .finished(r, n):
                reason = r
                usage = Usage(promptTokens: started.0, completionTokens: n, cachedTokens: started.1)
            }
        }
        return (text, reason, usage)
    }

    private func json<T: Encodable>(_ value: T) throws -> Response {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try enc.encode(value))))
    }

    /// A server-sent-events response: `data: {json}` events, then `data: [DONE]`. A write that
    /// fails (the client went away) ends the body; the generation notices the closed channel
    /// and frees its slot.
    private func sse(_ produce: @escaping @Sendable (_ write: (any Encodable) async throws -> Void) async throws -> Void) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: .init { writer in
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                do {
                    try await produce { value in
                        var data = Data("data: ".utf8)
                        data += try enc.encode(value)
                        data += Data("\n\n".utf8)
                        try await writer.write(ByteBuffer(bytes: data))
                    }
                } catch let e as APIError {
                    // Headers are sent: an error after the first event goes in the stream.
                    try await writer.write(ByteBuffer(bytes: Data("data: ".utf8) + e.body + Data("\n\n".utf8)))
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
            })
    }
}

private func now() -> Int { Int(Date().timeIntervalSince1970) }

private func randomID() -> String {
    (0..<24).map { _ in String("abcdefghijklmnopqrstuvwxyz0123456789".randomElement()!) }.joined()
}
