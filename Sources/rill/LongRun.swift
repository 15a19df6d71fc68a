import RillFormat
import Foundation
import RillRuntime

/// `rill bench --long N`: latency per token and resident memory against position, to show
/// that neither grows with the sequence.
struct LongRun {
    let path: String
    let tokens: Int
    let plot: String?
    let execution: ExecutionOptions

    struct Probe { let position: Int; let p50Ms: Double; let rssBytes: Int; let anonBytes: Int }

    /// Probe positions: 48 points spread log-uniformly over 1…N.
    static func positions(_ n: Int) -> [Int] {
        var out: [Int] = []
        for k in 0..<48 {
            let p = Int(pow(Double(n), Double(k) / 47).rounded())
            if p >= 1 && p <= n && out.last != p { out.append(p) }
        }
        return out
    }

    func run() throws {
        let m = try Model(path: path)
        let session = Session(
            model: m, threads: execution.threads, chunk: execution.chunk, kvCache: execution.kvCache,
            context: execution.context ?? m.network.defaultContext.map { _ in tokens + 16 * 48 + 1 })
        var rng = SplitMix64(seed: 7)
        let chunk = 512
        var ids = [Int32](repeating: 0, count: chunk)
        var probes: [Probe] = []
        let start = Date()
        var lat = [Double](repeating: 0, count: 16)
        for target in Self.positions(tokens) {
            while session.position < target {
                let n = min(chunk, target - session.position)
                for i in 0..<n { ids[i] = Int32(truncatingIfNeeded: rng.next() % UInt64(m.vocabSize)) }
                try session.prefill(Array(ids[0..<n]))
            }
            var token = argmax(session.logits, m.vocabSize)
            for i in 0..<16 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try session.step(token)
                token = argmax(session.logits, m.vocabSize)
                lat[i] = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
            }
            let mem = ResidentMemory.current()
            let probe = Probe(position: session.position, p50Ms: lat.sorted()[8], rssBytes: mem?.residentBytes ?? 0, anonBytes: mem?.anonymousBytes ?? 0)
            probes.append(probe)
            let line = String(format: "position %d: %.3f ms/token, RSS %@ (%.0f s)", probe.position, probe.p50Ms, formatBytes(probe.rssBytes), Date().timeIntervalSince(start))
            // A long run takes hours: on a terminal one redrawn line, in a log one line per probe.
            if Terminal.stderrIsTTY { Terminal.status(line) } else { Terminal.errLine(line) }
            // Rewritten at every probe (48 times in all), so that a run stopped early still
            // leaves its curves up to where it got.
            if let plot { try write(probes, plot: plot, title: title(session), final: false) }
        }
        Terminal.clearStatus()
        Terminal.out(csv(probes))
        if let plot { try write(probes, plot: plot, title: title(session), final: true) }
    }

    func title(_ session: Session) -> String {
        "\((path as NSString).lastPathComponent): \(tokens) tokens, \(session.pool.threadCount) threads"
    }

    func csv(_ probes: [Probe]) -> String {
        var csv = "position,decode_ms_p50,rss_bytes,anon_bytes\n"
        for p in probes { csv += "\(p.position),\(String(format: "%.4f", p.p50Ms)),\(p.rssBytes),\(p.anonBytes)\n" }
        return csv
    }

    /// Writes the CSV beside `plot` and the SVG.
    func write(_ probes: [Probe], plot: String, title: String, final: Bool) throws {
        let csvPath = (plot as NSString).deletingPathExtension + ".csv"
        try csv(probes).write(toFile: csvPath, atomically: true, encoding: .utf8)
        try svg(probes, title: title).write(toFile: plot, atomically: true, encoding: .utf8)
        if final { Terminal.errLine("wrote \(plot) and \(csvPath)") }
    }

    /// Two panels sharing a log x-axis: decode latency (ms) and resident memory (MiB).
    func svg(_ probes: [Probe], title: String) -> String {
        let w = 760.0, ph = 220.0, left = 70.0, right = 20.0, top = 40.0, gap = 50.0
        let maxX = log10(Double(max(probes.last?.position ?? 10, 10)))
        func x(_ p: Int) -> Double { left + (w - left - right) * log10(Double(max(p, 1))) / maxX }
        func panel(_ y0: Double, _ values: [Double], _ label: String, _ color: String) -> String {
            let hi = max((values.max() ?? 1) * 1.25, 1e-9)
            func y(_ v: Double) -> Double { y0 + ph - ph * v / hi }
            var s = "<rect x='\(left)' y='\(y0)' width='\(w - left - right)' height='\(ph)' fill='none' stroke='#999'/>"
            for k in 0...4 {
                let v = hi * Double(k) / 4
                s += "<text x='\(left - 6)' y='\(y(v) + 4)' font-size='11' text-anchor='end'>\(String(format: "%.3g", v))</text>"
            }
            s += "<text x='14' y='\(y0 + ph / 2)' font-size='12' transform='rotate(-90 14 \(y0 + ph / 2))' text-anchor='middle'>\(label)</text>"
            let pts = zip(probes, values).map { "\(String(format: "%.1f", x($0.position))),\(String(format: "%.1f", y($1)))" }.joined(separator: " ")
            s += "<polyline points='\(pts)' fill='none' stroke='\(color)' stroke-width='2'/>"
            return s
        }
        var s = "<svg xmlns='http://www.w3.org/2000/svg' width='\(w)' height='\(top + 2 * ph + gap + 40)' font-family='sans-serif'>"
        s += "<rect width='100%' height='100%' fill='white'/>"
        s += "<text x='\(w / 2)' y='22' font-size='14' text-anchor='middle'>\(title)</text>"
        s += panel(top, probes.map(\.p50Ms), "decode ms/token (p50)", "#1f77b4")
        s += panel(top + ph + gap, probes.map { Double($0.rssBytes) / 1048576 }, "resident MiB", "#d62728")
        let axisY = top + 2 * ph + gap
        var e = 0
        while Double(e) <= maxX {
            let p = Int(pow(10, Double(e)))
            s += "<text x='\(x(p))' y='\(axisY + 16)' font-size='11' text-anchor='middle'>1e\(e)</text>"
            e += 1
        }
        s += "<text x='\(w / 2)' y='\(axisY + 34)' font-size='12' text-anchor='middle'>position (tokens, log scale)</text></svg>\n"
        return s
    }
}
