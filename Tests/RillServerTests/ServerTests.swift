import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import RillConvert
import RillFormat
import RillRuntime
@testable import RillServer
import XCTest

/// `rill serve` on a free loopback port, driven over HTTP: every endpoint, streamed and not,
/// the errors in OpenAI's shape, turn snapshots, a disconnect freeing its slot, 503 when full.
final class ServerTests: XCTestCase {
    static let chatML = """
        {% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
        """

    /// A running server and a client; `stop()` shuts both down.
    final class Running: @unchecked Sendable {
        let server: RillServer
        let port: Int
        let task: Task<Void, Error>
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        init(server: RillServer, port: Int, task: Task<Void, Error>) {
            self.server = server
            self.port = port
            self.task = task
        }
        var base: String { "http://127.0.0.1:\(port)" }
        func stop() async throws {
            task.cancel()
            _ = await task.result
            try await client.shutdown()
        }
    }

    static func modelPath(_ quant: QuantType = .int8) throws -> String {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("rill-server-\(getpid())-\(quant).rill").path
        if !FileManager.default.fileExists(atPath: out) {
            _ = try Converter.convert(
                directory: fixtures.appendingPathComponent("mamba-tiny").path, output: out, options: ConvertOptions(quant: quant),
                tokenizerCheck: { _, _ in TokenizerInfo(format: "hf-tokenizer-json", model: "BPE (byte-level)", vocabSize: 2048) })
        }
        return out
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    func start(_ configure: (inout ServerOptions) -> Void = { _ in }) async throws -> Running {
        var options = ServerOptions()
        options.port = 0
        options.chatTemplate = Self.chatML
        options.cacheBytes = 64 << 20
        options.threadsPerSlot = 1
        configure(&options)
        let path = try Self.modelPath()
        let model = try Model(path: path)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = try RillServer(model: model, path: path, options: options, logger: logger)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let task = Task { try await server.run { port in continuation.yield(port) } }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw XCTSkip("server did not start") }
        return Running(server: server, port: port, task: task)
    }

    // MARK: - Helpers

    struct Reply {
        let status: Int
        let headers: HTTPHeaders
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
    }

    func send(_ r: Running, _ method: HTTPMethod, _ path: String, body: Data? = nil, headers: [(String, String)] = []) async throws -> Reply {
        var req = HTTPClientRequest(url: r.base + path)
        req.method = method
        req.headers.add(name: "Content-Type", value: "application/json")
        for (k, v) in headers { req.headers.add(name: k, value: v) }
        if let body { req.body = .bytes(ByteBuffer(bytes: body)) }
        let res = try await r.client.execute(req, timeout: .seconds(120))
        let data = try await res.body.collect(upTo: 16 << 20)
        return Reply(status: Int(res.status.code), headers: res.headers, body: Data(buffer: data))
    }

    func post(_ r: Running, _ path: String, _ json: String, headers: [(String, String)] = []) async throws -> Reply {
        try await send(r, .POST, path, body: Data(json.utf8), headers: headers)
    }

    /// The `data:` events of a server-sent-events body, `[DONE]` last.
    func events(_ body: Data) -> [String] {
        String(decoding: body, as: UTF8.self).components(separatedBy: "\n\n").compactMap { block in
            block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil
        }
    }

    // MARK: - Endpoints

    func testHealthModelsAndMetrics() async throws {
        let r = try await start()
        let health = try await send(r, .GET, "/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.json["status"] as? String, "ok")
        let models = try await send(r, .GET, "/v1/models")
        XCTAssertEqual(models.status, 200)
        let data = models.json["data"] as? [[String: Any]]
        XCTAssertEqual(data?.first?["id"] as? String, "rill-server-\(getpid())-int8")
        _ = try await post(r, "/v1/completions", #"{"prompt": "And God said", "max_tokens": 4, "temperature": 0}"#)
        let metrics = try await send(r, .GET, "/metrics")
        let text = String(decoding: metrics.body, as: UTF8.self)
        for name in ["rill_requests_total", "rill_completion_tokens_total", "rill_time_to_first_token_seconds_bucket",
                     "rill_token_latency_seconds_bucket", "rill_busy_slots", "rill_queue_length", "rill_snapshot_hits_total"] {
            XCTAssert(text.contains(name), "metrics lack \(name)")
        }
        try await r.stop()
    }

    /// Greedy: the server's text is the model's own greedy continuation, streamed or not.
    func testCompletionEqualsGreedyDecodingStreamedOrNot() async throws {
        let r = try await start()
        let plain = try await post(r, "/v1/completions", #"{"model": "", "prompt": "And God said", "max_tokens": 12, "temperature": 0}"#)
        XCTAssertEqual(plain.status, 200)
        let choice = (plain.json["choices"] as? [[String: Any]])?.first
        let text = choice?["text"] as? String ?? ""
        XCTAssertEqual(choice?["finish_reason"] as? String, "length")
        let usage = plain.json["usage"] as? [String: Any]
        XCTAssertEqual(usage?["completion_tokens"] as? Int, 12)
        XCTAssertEqual(plain.json["object"] as? String, "text_completion")

        // The same greedy continuation computed here.
        let model = try Model(path: try Self.modelPath())
        let s = Session(model: model, threads: 1)
        let prompt = try model.encode("And God said")
        XCTAssertEqual(usage?["prompt_tokens"] as? Int, prompt.count)
        try s.prefill(prompt)
        var ids: [Int32] = []
        for i in 0..<12 {
            let t = argmax(s.logits, model.vocabSize)
            ids.append(t)
            if i < 11 { try s.step(t) }
        }
        XCTAssertEqual(text, model.tokenizer!.decode(ids, skippingSpecialTokens: true))

        let streamed = try await post(r, "/v1/completions", #"{"prompt": "And God said", "max_tokens": 12, "temperature": 0, "stream": true}"#)
        XCTAssertEqual(streamed.status, 200)
        XCTAssertEqual(streamed.headers.first(name: "Content-Type"), "text/event-stream")
        let ev = events(streamed.body)
        XCTAssertEqual(ev.last, "[DONE]")
        var joined = ""
        var lastUsage: [String: Any]?
        for e in ev.dropLast() {
            let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any])
            joined += ((obj["choices"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
            if let u = obj["usage"] as? [String: Any] { lastUsage = u }
        }
        XCTAssertEqual(joined, text)
        XCTAssertEqual(lastUsage?["completion_tokens"] as? Int, 12)
        try await r.stop()
    }

    /// A conversation's second turn reads only its new tokens: the state at the end of the
    /// first reply comes from the snapshot cache.
    func testChatSecondTurnReusesTheFirstTurnsState() async throws {
        let r = try await start()
        let first = try await post(r, "/v1/chat/completions", #"{"messages": [{"role": "user", "content": "In the beginning"}], "max_tokens": 8, "temperature": 0}"#)
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.json["object"] as? String, "chat.completion")
        let message = ((first.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])
        let reply = message?["content"] as? String ?? ""
        XCTAssertEqual(message?["role"] as? String, "assistant")
        let u1 = first.json["usage"] as? [String: Any]
        let d1 = u1?["prompt_tokens_details"] as? [String: Any]
        XCTAssertEqual(d1?["cached_tokens"] as? Int, 0)

        let history = try JSONSerialization.data(withJSONObject: [
            "messages": [["role": "user", "content": "In the beginning"], ["role": "assistant", "content": reply],
                         ["role": "user", "content": "And the earth"]],
            "max_tokens": 8, "temperature": 0,
        ])
        let second = try await send(r, .POST, "/v1/chat/completions", body: history)
        XCTAssertEqual(second.status, 200)
        let u2 = second.json["usage"] as? [String: Any]
        let cached = (u2?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0
        let promptTokens = u2?["prompt_tokens"] as? Int ?? 0
        XCTAssertGreaterThan(cached, u1?["prompt_tokens"] as? Int ?? 0, "the second turn starts from the first reply's state")
        XCTAssertLessThan(cached, promptTokens)
        try await r.stop()
    }

    func testChatStreamsRoleThenContentThenFinish() async throws {
        let r = try await start()
        let res = try await post(r, "/v1/chat/completions", #"{"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "max_tokens": 5, "stream": true, "seed": 3}"#)
        XCTAssertEqual(res.status, 200)
        let ev = events(res.body)
        XCTAssertEqual(ev.last, "[DONE]")
        let objs = ev.dropLast().compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(objs.first?["object"] as? String, "chat.completion.chunk")
        let firstDelta = (objs.first?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any]
        XCTAssertEqual(firstDelta?["role"] as? String, "assistant")
        let lastChoice = (objs.last?["choices"] as? [[String: Any]])?.first
        XCTAssertNotNil(lastChoice?["finish_reason"] as? String)
        XCTAssertNotNil(objs.last?["usage"])
        try await r.stop()
    }

    /// The snapshot a server restores gives the same logits, bit for bit, as reading the same
    /// tokens in the same chunks.
    func testSnapshotRestoreIsBitIdenticalToPrefill() throws {
        let model = try Model(path: try Self.modelPath())
        let a = try model.encode("In the beginning God created the heaven"), b = try model.encode(" and the earth.", atStart: false)
        let straight = Session(model: model, threads: 1)
        try straight.prefill(a)
        let snap = straight.snapshot(tokens: a)
        try straight.prefill(b)
        let other = Session(model: model, threads: 2)
        try other.prefill(b)  // some other state first: the restore must replace all of it
        XCTAssertTrue(other.restore(snap))
        XCTAssertEqual(other.position, a.count)
        try other.prefill(b)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: other.logits, count: model.vocabSize)),
                       Array(UnsafeBufferPointer(start: straight.logits, count: model.vocabSize)))
    }

    func testSnapshotCacheKeepsTheLongestPrefixWithinItsBudget() throws {
        let model = try Model(path: try Self.modelPath())
        let s = Session(model: model, threads: 1)
        let ids = try model.encode("In the beginning God created the heaven and the earth")
        let size = s.snapshotBytes + 64 * 4
        let cache = SnapshotCache(budgetBytes: 2 * size)
        for n in [3, 6, 9] {
            s.reset()
            try s.prefill(Array(ids[..<n]))
            XCTAssertTrue(cache.insert(s.snapshot(tokens: Array(ids[..<n]))))
        }
        XCTAssertEqual(cache.count, 2, "the budget holds two; the least recently used went")
        XCTAssertLessThanOrEqual(cache.usedBytes, 2 * size)
        XCTAssertEqual(cache.longestPrefix(of: ids)?.tokens.count, 9)
        XCTAssertNil(cache.longestPrefix(of: Array(ids[..<2])))
        XCTAssertNil(cache.longestPrefix(of: [ids[0], ids[1], ids[2] &+ 1] + ids[3...]))
        XCTAssertFalse(SnapshotCache(budgetBytes: 10).insert(s.snapshot(tokens: Array(ids[..<9]))), "larger than the budget: not kept")
    }

    // MARK: - Bad input

    func testBadRequestsAreOpenAIErrorsNotCrashes() async throws {
        let r = try await start { $0.maxBodyBytes = 4096; $0.context = 256 }
        let cases: [(String, Int, String?)] = [
            (#"{"prompt": "x", "#, 400, nil),
            (#"{"prompt": "x", "max_tokens": "ten"}"#, 400, "max_tokens"),
            (#"{"max_tokens": 5}"#, 400, "prompt"),
            (#"{"prompt": "x", "n": 2}"#, 400, "n"),
            (#"{"prompt": "x", "max_tokens": 0}"#, 400, "max_tokens"),
            (#"{"prompt": "x", "max_tokens": 300}"#, 400, "max_tokens"),
            (#"{"prompt": "x", "temperature": 3}"#, 400, "temperature"),
            (#"{"prompt": [1, 2, 999999]}"#, 400, "prompt"),
            (#"{"prompt": "x", "logprobs": 3}"#, 400, "logprobs"),
            (#"{"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}"#, 400, "stop"),
        ]
        for (body, status, param) in cases {
            let res = try await post(r, "/v1/completions", body)
            XCTAssertEqual(res.status, status, body)
            XCTAssertEqual(res.error["type"] as? String, "invalid_request_error", body)
            XCTAssertFalse((res.error["message"] as? String ?? "").isEmpty, body)
            if let param { XCTAssertEqual(res.error["param"] as? String, param, body) }
        }
        let unknown = try await post(r, "/v1/completions", #"{"model": "gpt-4", "prompt": "x"}"#)
        XCTAssertEqual(unknown.status, 404)
        XCTAssertEqual(unknown.error["code"] as? String, "model_not_found")
        let badUTF8 = try await send(r, .POST, "/v1/completions", body: Data([0x7B, 0x22, 0x70, 0xFF, 0xFE, 0x22, 0x7D]))
        XCTAssertEqual(badUTF8.status, 400)
        XCTAssertEqual(badUTF8.error["message"] as? String, "The body is not valid JSON: invalid UTF-8 at byte 3")
        // A lone surrogate escape in a key: Swift 6.0's JSONDecoder would stop the process.
        let loneSurrogate = try await post(r, "/v1/completions", #"{"\uD800": 1, "prompt": "x"}"#)
        XCTAssertEqual(loneSurrogate.status, 400)
        XCTAssertEqual(loneSurrogate.error["message"] as? String,
                       "The body is not valid JSON: a \\u escape of a high surrogate without its low surrogate at byte 2")
        let big = try await post(r, "/v1/completions", #"{"prompt": ""# + String(repeating: "a", count: 10_000) + #""}"#)
        XCTAssertEqual(big.status, 413)
        XCTAssertEqual(big.error["code"] as? String, "request_too_large")
        let nowhere = try await send(r, .GET, "/v2/nothing")
        XCTAssertEqual(nowhere.status, 404)
        XCTAssertEqual(nowhere.error["type"] as? String, "invalid_request_error")
        let emptyChat = try await post(r, "/v1/chat/completions", #"{"messages": []}"#)
        XCTAssertEqual(emptyChat.status, 400)
        // The server still answers.
        let ok = try await post(r, "/v1/completions", #"{"prompt": "x", "max_tokens": 2}"#)
        XCTAssertEqual(ok.status, 200)
        try await r.stop()
    }

    func testAPIKeyIsRequiredWhenSet() async throws {
        let r = try await start { $0.apiKey = "sesame" }
        let none = try await post(r, "/v1/completions", #"{"prompt": "x", "max_tokens": 1}"#)
        XCTAssertEqual(none.status, 401)
        XCTAssertEqual(none.error["code"] as? String, "invalid_api_key")
        let wrong = try await post(r, "/v1/completions", #"{"prompt": "x", "max_tokens": 1}"#, headers: [("Authorization", "Bearer nope")])
        XCTAssertEqual(wrong.status, 401)
        let right = try await post(r, "/v1/completions", #"{"prompt": "x", "max_tokens": 1}"#, headers: [("Authorization", "Bearer sesame")])
        XCTAssertEqual(right.status, 200)
        let health = try await send(r, .GET, "/health")
        XCTAssertEqual(health.status, 200, "health stays open")
        try await r.stop()
    }

    // MARK: - Slots

    /// One slot, no queue: while a long generation holds the slot, another request is refused
    /// with 503 and Retry-After; a client that disconnects mid-stream frees the slot at once.
    func testFullServerAnswers503AndADisconnectFreesTheSlot() async throws {
        let r = try await start { $0.slots = 1; $0.queueLength = 0; $0.context = 100_000 }
        var req = HTTPClientRequest(url: r.base + "/v1/completions")
        req.method = .POST
        req.headers.add(name: "Content-Type", value: "application/json")
        req.body = .bytes(ByteBuffer(string: #"{"prompt": "And", "max_tokens": 50000, "stream": true, "temperature": 1, "ignore_eos": true}"#))
        // The body's iterator stays alive until the busy check: AsyncHTTPClient cancels the
        // request when it is dropped, and the server then frees the slot (which made this test
        // fail in one full release run, the iterator having lived in a finished Task).
        let res = try await r.client.execute(req, timeout: .seconds(120))
        var iterator = res.body.makeAsyncIterator()
        _ = try await iterator.next()  // the first event: the slot is busy
        let busy = try await post(r, "/v1/completions", #"{"prompt": "x", "max_tokens": 1}"#)
        XCTAssertEqual(busy.status, 503)
        XCTAssertEqual(busy.headers.first(name: "Retry-After"), "1")
        XCTAssertEqual(busy.error["code"] as? String, "server_busy")
        withExtendedLifetime(iterator) {}  // drop the response: its connection closes below
        _ = res
        try await r.client.shutdown()  // closes the streaming connection
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var freed = false
        for _ in 0..<200 {
            var h = HTTPClientRequest(url: r.base + "/health")
            h.method = .GET
            let reply = try await client.execute(h, timeout: .seconds(10))
            let body = try await reply.body.collect(upTo: 1 << 16)
            let obj = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
            if obj?["slots_busy"] as? Int == 0 { freed = true; break }
            try await Task.sleep(for: .milliseconds(25))
        }
        XCTAssertTrue(freed, "the slot was not freed after the client disconnected")
        var again = HTTPClientRequest(url: r.base + "/v1/completions")
        again.method = .POST
        again.body = .bytes(ByteBuffer(string: #"{"prompt": "x", "max_tokens": 1}"#))
        let status = try await client.execute(again, timeout: .seconds(30)).status.code
        XCTAssertEqual(status, 200)
        try await client.shutdown()
        r.task.cancel()
        _ = await r.task.result
    }
}
