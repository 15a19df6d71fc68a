import ArgumentParser
import Foundation
import RillModels
import RillRuntime
import RillTokenizer

/// Set by SIGINT while a reply streams: the reply stops, the program does not.
nonisolated(unsafe) private var interrupted: sig_atomic_t = 0

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Chat with a model in the terminal, through its chat template.",
        discussion: """
            Each turn feeds the model only the new tokens: the conversation so far is the \
            session's state, never read again. Ctrl-C stops a reply (not the program); Ctrl-D or \
            /quit ends.
            Commands: /reset (forget the conversation), /save FILE and /load FILE (the state \
            file of rill run --save-state, with the conversation's text beside it in FILE.json), \
            /system TEXT (a system message, for the next /reset or an empty chat).
              rill chat model.rill --temp 0.7
            """)

    @OptionGroup var model: ModelPath

    @Option(name: .customLong("temp"), help: "Temperature; 0 is greedy.")
    var temperature: Float = 0.7

    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass (1 = off).")
    var topP: Float = 0.95

    @Option(name: .shortAndLong, help: "Most tokens per reply.")
    var n = 512

    @Option(help: "Random seed (default: from the clock).")
    var seed: UInt64?

    @Option(name: .customLong("system"), help: "A system message to start with.")
    var system: String?

    @Option(name: .customLong("chat-template"), help: "A Jinja chat-template file replacing the checkpoint's.")
    var chatTemplate: String?

    @OptionGroup var execution: ExecutionOptions

    func run() throws {
        let m = try Model(path: model.path)
        guard m.tokenizer != nil else { throw ValidationError("\(model.path): the file carries no tokenizer; chat needs one") }
        let template = try loadTemplate(m)
        let session = Session(model: m, threads: execution.threads, chunk: execution.chunk, kvCache: execution.kvCache, context: execution.context)
        var settings = SamplerSettings()
        settings.temperature = temperature
        settings.topP = topP
        settings.topK = 0
        settings.seed = seed ?? UInt64(Date().timeIntervalSince1970 * 1e6)
        let sampler = Sampler(settings: settings, vocabSize: m.vocabSize)
        var chat = Conversation(model: m, session: session, template: template.template, system: system)
        Terminal.errLine("\(model.path): \(m.config.architecture), template: \(template.origin). /reset, /save FILE, /load FILE, /quit; Ctrl-C stops a reply.")
        signal(SIGINT) { _ in interrupted = 1 }
        while true {
            Terminal.out("\n> ")
            Terminal.flushOut()
            guard let line = readLine(strippingNewline: true) else { break }
            let input = line.trimmingCharacters(in: .whitespaces)
            if input.isEmpty { continue }
            if input.hasPrefix("/") {
                if try command(input, &chat) { break }
                continue
            }
            interrupted = 0
            let result = try chat.reply(to: input, sampler: sampler, maxTokens: n, stop: { interrupted != 0 }) { piece in
                Terminal.out(piece)
                Terminal.flushOut()
            }
            Terminal.out("\n")
            Terminal.flushOut()
            var note = String(format: "[%d new prompt tokens (%d reused) in %.2f s; %d tokens in %.2f s, %.1f tok/s", result.prefilled, result.reused,
                              result.prefillSeconds, result.generated, result.generateSeconds, Double(result.generated) / max(result.generateSeconds, 1e-9))
            if interrupted != 0 { note += "; stopped" }
            if result.contextFull { note += "; the context is full: /reset, or rerun with a larger --ctx" }
            Terminal.errLine(note + "]")
        }
        signal(SIGINT, SIG_DFL)
    }

    /// Handles a `/command`; true to quit.
    private func command(_ input: String, _ chat: inout Conversation) throws -> Bool {
        let parts = input.split(separator: " ", maxSplits: 1).map(String.init)
        let arg = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        switch parts[0] {
        case "/quit", "/exit": return true
        case "/reset":
            chat.reset()
            Terminal.errLine("[conversation forgotten]")
        case "/system":
            chat.system = arg.isEmpty ? nil : arg
            Terminal.errLine("[system message set; it applies from the next /reset]")
        case "/save":
            guard !arg.isEmpty else { Terminal.errLine("usage: /save FILE"); return false }
            do {
                let sizes = try chat.save(to: arg)
                Terminal.errLine("[saved \(arg): \(formatBytes(sizes.compressed)), and \(arg).json]")
            } catch { Terminal.errLine("error: \(error)") }
        case "/load":
            guard !arg.isEmpty else { Terminal.errLine("usage: /load FILE"); return false }
            do {
                try chat.load(from: arg)
                Terminal.errLine("[loaded \(arg): \(chat.messages.count) messages, position \(chat.session.position)]")
            } catch { Terminal.errLine("error: \(error)") }
        default:
            Terminal.errLine("unknown command \(parts[0]): /reset, /system TEXT, /save FILE, /load FILE, /quit")
        }
        return false
    }

    private func loadTemplate(_ m: Model) throws -> (template: ChatTemplate, origin: String) {
        if let chatTemplate {
            guard let text = try? String(contentsOfFile: chatTemplate, encoding: .utf8) else {
                throw ValidationError("--chat-template \(chatTemplate): cannot read it as UTF-8 text")
            }
            return (try ChatTemplate(source: text), chatTemplate)
        }
        if let t = m.file.metadata.tokenizer?.chatTemplate { return (try ChatTemplate(source: t), "the checkpoint's") }
        return (ChatTemplate.plain, "plain (the checkpoint has none)")
    }
}
