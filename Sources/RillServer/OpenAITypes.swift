import Foundation
import RillTokenizer

// The request and response shapes of OpenAI's `/v1/completions` and `/v1/chat/completions`
// (what `llama-server`, Ollama and vLLM also speak). Fields Rill does not use are accepted and
// ignored, as those servers do; fields it cannot honour (`n > 1`, logprobs) are refused with
// an `invalid_request_error` naming them.

/// `prompt`: a string, a list of one string, or token ids.
enum PromptInput: Decodable, Sendable {
    case text(String)
    case tokens([Int32])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .text(s); return }
        if let ids = try? c.decode([Int32].self) { self = .tokens(ids); return }
        if let list = try? c.decode([String].self) {
            guard list.count == 1 else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "one prompt per request (found \(list.count); batch them as separate requests)")
            }
            self = .text(list[0])
            return
        }
        if let batches = try? c.decode([[Int32]].self), batches.count == 1 { self = .tokens(batches[0]); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a string or a list of token ids")
    }
}

/// `stop`: a string or a list of up to 4 strings.
struct StopSequences: Decodable, Sendable {
    let values: [String]

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { values = []; return }
        if let s = try? c.decode(String.self) { values = [s]; return }
        values = try c.decode([String].self)
    }
}

/// The sampling and length fields both endpoints share.
struct GenerationFields: Decodable, Sendable {
    var maxTokens: Int?
    var temperature: Double?
    var topP: Double?
    var seed: Int64?
    var stop: StopSequences?
    var stream: Bool?
    var n: Int?
    var streamOptions: StreamOptions?
    var logprobs: LogprobsField?
    var presencePenalty: Double?
    var frequencyPenalty: Double?
    /// llama-server's extension: generate `max_tokens` even past the end-of-text token.
    var ignoreEOS: Bool?

    struct StreamOptions: Decodable, Sendable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    /// Completions take an integer, chat a boolean: only "off" is supported.
    struct LogprobsField: Decodable, Sendable {
        let on: Bool
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { on = false } else if let b = try? c.decode(Bool.self) { on = b } else { on = true }
        }
    }

    enum CodingKeys: String, CodingKey {
        case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens", temperature, topP = "top_p", seed, stop
        case stream, n, streamOptions = "stream_options", logprobs, presencePenalty = "presence_penalty"
        case frequencyPenalty = "frequency_penalty", ignoreEOS = "ignore_eos"
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens) ?? c.decodeIfPresent(Int.self, forKey: .maxCompletionTokens)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        seed = try c.decodeIfPresent(Int64.self, forKey: .seed)
        stop = try c.decodeIfPresent(StopSequences.self, forKey: .stop)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream)
        n = try c.decodeIfPresent(Int.self, forKey: .n)
        streamOptions = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)
        logprobs = try c.decodeIfPresent(LogprobsField.self, forKey: .logprobs)
        presencePenalty = try c.decodeIfPresent(Double.self, forKey: .presencePenalty)
        frequencyPenalty = try c.decodeIfPresent(Double.self, forKey: .frequencyPenalty)
        ignoreEOS = try c.decodeIfPresent(Bool.self, forKey: .ignoreEOS)
    }
}

struct CompletionRequest: Decodable, Sendable {
    let model: String?
    let prompt: PromptInput
    let fields: GenerationFields

    enum CodingKeys: String, CodingKey { case model, prompt }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        prompt = try c.decode(PromptInput.self, forKey: .prompt)
        fields = try GenerationFields(from: decoder)
    }
}

struct ChatCompletionRequest: Decodable, Sendable {
    let model: String?
    let messages: [ChatMessage]
    let fields: GenerationFields

    enum CodingKeys: String, CodingKey { case model, messages }

    /// One message: `content` a string, null, or a list of parts of which the `text` ones are
    /// joined (the multimodal form clients send even for text).
    struct Message: Decodable {
        let role: String
        let content: String

        struct Part: Decodable {
            let type: String
            let text: String?
        }

        enum CodingKeys: String, CodingKey { case role, content }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            role = try c.decode(String.self, forKey: .role)
            if try c.decodeNil(forKey: .content) {
                content = ""
            } else if let s = try? c.decode(String.self, forKey: .content) {
                content = s
            } else {
                let parts = try c.decode([Part].self, forKey: .content)
                guard parts.allSatisfy({ $0.type == "text" }) else {
                    throw DecodingError.dataCorruptedError(forKey: .content, in: c, debugDescription: "only text content parts are supported")
                }
                content = parts.compactMap(\.text).joined()
            }
        }
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        messages = try c.decode([Message].self, forKey: .messages).map { ChatMessage(role: $0.role, content: $0.content) }
        fields = try GenerationFields(from: decoder)
    }
}

// MARK: - Responses

struct Usage: Encodable, Sendable {
    let promptTokens: Int
    let completionTokens: Int
    /// Prompt tokens whose state came from a snapshot instead of being read again.
    let cachedTokens: Int

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
        case details = "prompt_tokens_details"
    }
    enum DetailKeys: String, CodingKey { case cachedTokens = "cached_tokens" }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(promptTokens + completionTokens, forKey: .totalTokens)
        var d = c.nestedContainer(keyedBy: DetailKeys.self, forKey: .details)
        try d.encode(cachedTokens, forKey: .cachedTokens)
    }
}

/// `stop` (end token or stop sequence), `length` (`max_tokens` or the context).
enum FinishReason: String, Encodable, Sendable { case stop, length }

/// What one choice carries, and so which OpenAI object the envelope is: the text of a
/// completion, the message of a chat completion, or the delta of a chat stream chunk.
protocol ChoiceBody: Encodable {
    /// The envelope's `object`.
    static var object: String { get }
    /// The choice's key for the body.
    static var key: String { get }
}

/// `text` of a completion (and of its stream chunks, which OpenAI calls the same object).
struct TextBody: ChoiceBody {
    static let object = "text_completion"
    static let key = "text"
    let text: String
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

/// `message` of a chat completion.
struct MessageBody: ChoiceBody {
    static let object = "chat.completion"
    static let key = "message"
    let role = "assistant"
    let content: String
}

/// `delta` of a chat stream chunk: the role first, then content pieces, then nothing.
struct DeltaBody: ChoiceBody {
    static let object = "chat.completion.chunk"
    static let key = "delta"
    var role: String?
    var content: String?
}

/// One choice (always index 0: `n` is 1); `finish_reason` is null until the last chunk.
struct Choice<Body: ChoiceBody>: Encodable {
    let body: Body
    let finishReason: FinishReason?

    private struct Key: CodingKey {
        let stringValue: String
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(0, forKey: Key("index"))
        try c.encode(body, forKey: Key(Body.key))
        try c.encode(finishReason, forKey: Key("finish_reason"))
        try c.encodeNil(forKey: Key("logprobs"))
    }
}

/// OpenAI's envelope around the choices, the same for completions, chat completions and
/// stream chunks; `usage` only where given (the whole answer, or a stream's last chunk).
struct CompletionObject<Body: ChoiceBody>: Encodable {
    let id: String
    let created: Int
    let model: String
    let choices: [Choice<Body>]
    let usage: Usage?
    let systemFingerprint: String

    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage, systemFingerprint = "system_fingerprint" }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(Body.object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        try c.encodeIfPresent(usage, forKey: .usage)
        try c.encode(systemFingerprint, forKey: .systemFingerprint)
    }
}

struct ModelList: Encodable {
    struct Entry: Encodable {
        let id: String
        let object = "model"
        let created: Int
        let ownedBy = "rill"
        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
    }
    let object = "list"
    let data: [Entry]
}
