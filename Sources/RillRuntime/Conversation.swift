import Dispatch
import Foundation
import RillFormat
import RillTokenizer

/// A chat on one session whose history is never read twice.
///
/// Each turn renders the whole conversation through the chat template, and feeds the session
/// only the tokens past those it has consumed — when the rendering begins with them, as it
/// does for templates that only append. When a template rewrites earlier text (some drop old
/// system prompts or reasoning), the conversation returns to the snapshot kept at the end of
/// the last prompt, or the last reply, whose tokens the rendering still begins with, and reads
/// from there; only when none matches does it read the whole conversation again (`reused` 0).
public struct Conversation {
    public let model: Model
    public let session: Session
    public let template: ChatTemplate
    public var system: String?
    public private(set) var messages: [ChatMessage] = []
    /// The tokens the session's state holds.
    public private(set) var consumed: [Int32] = []
    /// States at the end of the last prompt and the last reply.
    private var snapshots: [SessionSnapshot] = []

    public init(model: Model, session: Session, template: ChatTemplate, system: String? = nil) {
        self.model = model
        self.session = session
        self.template = template
        self.system = system
        session.reset()
    }

    public struct ReplyStats {
        /// Prompt tokens read this turn, and those reused from the session's state.
        public var prefilled = 0, reused = 0
        public var generated = 0
        public var prefillSeconds = 0.0, generateSeconds = 0.0
        public var contextFull = false
        public var text = ""
    }

    /// Adds `user` to the conversation and streams the model's reply to `emit` until its end
    /// token, `maxTokens`, the context's end, or `stop()` returning true (checked per token).
    public mutating func reply(
        to user: String, sampler: Sampler, maxTokens: Int, stop: () -> Bool, emit: (String) -> Void
    ) throws -> ReplyStats {
        var stats = ReplyStats()
        if messages.isEmpty, let system { messages.append(ChatMessage(role: "system", content: system)) }
        messages.append(ChatMessage(role: "user", content: user))
        let prompt = try tokens(addGenerationPrompt: true)
        let t0 = DispatchTime.now().uptimeNanoseconds
        stats.reused = try moveTo(prefixOf: prompt)
        let rest = Array(prompt[stats.reused...])
        if !rest.isEmpty {
            if let cap = session.capacity, session.position + rest.count >= cap {
                messages.removeLast()
                throw SessionError.contextFull(capacity: cap, position: session.position, adding: rest.count + 1)
            }
            try session.prefill(rest)
            consumed = prompt
            keep(session.snapshot(tokens: consumed))
        }
        stats.prefilled = rest.count
        let t1 = DispatchTime.now().uptimeNanoseconds
        stats.prefillSeconds = Double(t1 - t0) / 1e9

        var decoder = model.tokenizer.map { StreamingDecoder(tokenizer: $0, skippingSpecialTokens: true) }
        let eos = model.file.metadata.eosTokenID.map(Int32.init)
        var last: Int32?
        while stats.generated < maxTokens, !stop() {
            let token = sampler.sample(session.logits)
            sampler.accept(token)
            stats.generated += 1
            last = token
            if token == eos { break }
            if var d = decoder {
                let piece = d.append(token)
                decoder = d
                stats.text += piece
                emit(piece)
            }
            if let cap = session.capacity, session.position + 1 >= cap { stats.contextFull = true; break }
            try session.step(token)
            consumed.append(token)
            last = nil
        }
        if var d = decoder {
            let piece = d.flush()
            stats.text += piece
            emit(piece)
        }
        // The end token (or the last sampled one) closes the turn in the state too.
        if let last, session.capacity.map({ session.position < $0 }) ?? true {
            try session.step(last)
            consumed.append(last)
        }
        messages.append(ChatMessage(role: "assistant", content: stats.text))
        keep(session.snapshot(tokens: consumed))
        stats.generateSeconds = Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9
        return stats
    }

    /// The conversation through the template, as token ids (the template writes BOS itself).
    func tokens(addGenerationPrompt: Bool) throws -> [Int32] {
        let bos = model.file.metadata.bosTokenID.flatMap { model.tokenizer?.decode([Int32($0)], skippingSpecialTokens: false) } ?? ""
        let eos = model.file.metadata.eosTokenID.flatMap { model.tokenizer?.decode([Int32($0)], skippingSpecialTokens: false) } ?? ""
        let text = try template.render(messages: messages, addGenerationPrompt: addGenerationPrompt, bosToken: bos, eosToken: eos)
        return try model.encode(text, atStart: false)
    }

    /// Puts the session at the longest state whose tokens begin `prompt` (the live one, or a
    /// snapshot), or at the start; returns how many tokens that reuses.
    private mutating func moveTo(prefixOf prompt: [Int32]) throws -> Int {
        func isPrefix(_ t: [Int32]) -> Bool { t.count <= prompt.count && t.elementsEqual(prompt.prefix(t.count)) }
        if isPrefix(consumed) { return consumed.count }
        if let s = snapshots.filter({ isPrefix($0.tokens) }).max(by: { $0.tokens.count < $1.tokens.count }), session.restore(s) {
            consumed = s.tokens
            return s.tokens.count
        }
        session.reset()
        consumed = []
        return 0
    }

    private mutating func keep(_ s: SessionSnapshot) {
        snapshots.append(s)
        if snapshots.count > 2 { snapshots.removeFirst() }
    }

    /// Forgets everything.
    public mutating func reset() {
        messages = []
        consumed = []
        snapshots = []
        session.reset()
    }

    /// The state file (`rill run --load-state` reads it too) and, beside it, `FILE.json` with
    /// the messages and tokens, so that /load continues the same conversation.
    public func save(to path: String) throws -> (raw: Int, compressed: Int) {
        let sizes = try StateFile.save(session: session, sampler: nil, to: path)
        let record = Record(messages: messages, tokens: consumed)
        try JSONEncoder().encode(record).write(to: URL(fileURLWithPath: path + ".json"))
        return sizes
    }

    public mutating func load(from path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path + ".json"))
        do { try checkJSONBytes(data) } catch {  // Swift 6.0's JSONDecoder traps on some bad keys
            throw StateFileError.corrupted(path: path + ".json", field: "(file)", reason: "\(error)")
        }
        let record = try JSONDecoder().decode(Record.self, from: data)
        try StateFile.load(into: session, sampler: nil, from: path)
        guard session.position == record.tokens.count else {
            throw StateFileError.corrupted(path: path + ".json", field: "tokens", reason: "\(record.tokens.count) tokens for a state at position \(session.position)")
        }
        messages = record.messages
        consumed = record.tokens
        snapshots = []
    }

    struct Record: Codable {
        let messages: [ChatMessage]
        let tokens: [Int32]
    }
}
