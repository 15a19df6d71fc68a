import Prometheus

/// What `GET /metrics` reports, in Prometheus text format: requests by endpoint and status,
/// tokens in and out, time to first token and per-token latency, busy slots, queue length,
/// snapshot-cache hits and misses.
final class ServerMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    let promptTokens: Counter
    let completionTokens: Counter
    let cacheHits: Counter
    let cacheMisses: Counter
    let rejected: Counter
    let busySlots: Gauge
    let queued: Gauge
    let cacheBytes: Gauge
    let timeToFirstToken: DurationHistogram
    let tokenLatency: DurationHistogram

    init() {
        promptTokens = registry.makeCounter(name: "rill_prompt_tokens_total", help: "Prompt tokens read (not counting those restored from a snapshot).")
        completionTokens = registry.makeCounter(name: "rill_completion_tokens_total", help: "Tokens generated.")
        cacheHits = registry.makeCounter(name: "rill_snapshot_hits_total", help: "Requests that continued from a cached state.")
        cacheMisses = registry.makeCounter(name: "rill_snapshot_misses_total", help: "Requests that read their prompt from the start.")
        rejected = registry.makeCounter(name: "rill_rejected_total", help: "Requests answered 503 because every slot and the queue were busy.")
        busySlots = registry.makeGauge(name: "rill_busy_slots", help: "Slots generating now.")
        queued = registry.makeGauge(name: "rill_queue_length", help: "Requests waiting for a slot.")
        cacheBytes = registry.makeGauge(name: "rill_snapshot_cache_bytes", help: "Bytes of cached states.")
        timeToFirstToken = registry.makeDurationHistogram(
            name: "rill_time_to_first_token_seconds",
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30)],
            help: "From the start of a generation to its first token (prompt read, cache restore included).")
        tokenLatency = registry.makeDurationHistogram(
            name: "rill_token_latency_seconds",
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1)],
            help: "Time per generated token.")
    }

    /// A request counter for one endpoint and status (made on first use; the registry keeps it).
    func request(_ path: String, status: Int) {
        registry.makeCounter(name: "rill_requests_total", labels: [("endpoint", path), ("status", String(status))],
                             help: "HTTP requests by endpoint and status.").increment()
    }

    var text: String { registry.emitToString() }
}
