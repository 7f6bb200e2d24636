// Real-time watch benchmarks (issue 20). Prints figures; asserts nothing beyond sanity. Run inside a throw-away
// cluster:
//   swift build -c release --scratch-path .build-release --product watch-bench --product kraken-audit
//   pg_virtualenv -t .build-release/release/watch-bench latency --events 200
//   pg_virtualenv -t .build-release/release/watch-bench soak --minutes 60
// Both start the simulator in this process (REST + WebSocket v2), a database, `kraken-audit collect` once, then
// `kraken-audit watch` (the binary beside this one) as a child process, with an alert hook that notes the time it
// was started for each delivery. Every XXBT/XETH withdrawal is a finding (`max_amount` 0).
// `latency`: --events withdrawals planted one after another (each once the previous one's alert arrived, plus
//   --gap-ms): the time from the plant (the ledger entry booked on Kraken) to the hook's start, p50/p90/p99/max,
//   and per stage (entry stored, WithdrawStatus stored, finding, hook started).
// `soak`: --minutes of steady activity (an event every --interval-ms, default 2000: a trade, every 15th a
//   withdrawal); watch's RSS sampled every --sample-seconds (default 60; first, last, max); then every planted
//   withdrawal's alert, and every entry compared by id with Kraken's once the stream has caught up.
// `--watch-log warning` prints watch's own log (at that level) at the end.
import AuditKernel
import AuditStore
import ChildProcesses
import Foundation
import KrakenSimulator
import Logging

struct BenchError: Error, CustomStringConvertible {
    let description: String
}

func arg(_ name: String, _ def: Double) -> Double {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count, let v = Double(a[i + 1]) { return v }
    return def
}

let mode = CommandLine.arguments.dropFirst().first ?? "latency"
let events = Int(arg("--events", 100))
let gapMs = Int(arg("--gap-ms", 100))
let minutes = arg("--minutes", 60)
let intervalMs = Int(arg("--interval-ms", 2000))
let sampleSeconds = arg("--sample-seconds", 60)
/// `--watch-log warning` (or info): watch's log at that level is printed at the end.
let watchLogLevel: String = {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: "--watch-log"), i + 1 < a.count { return a[i + 1] }
    return "error"
}()
let repo: URL = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
}()
let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kraken-audit").path
let logger: Logger = {
    var l = Logger(label: "watch-bench")
    l.logLevel = .error
    return l
}()

func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func rssMiB(_ pid: pid_t) -> Double {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kb / 1024
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

func run(_ args: [String], config: String, env: [String: String]) async throws {
    let p = try ChildProcess.start(
        binary, arguments: args + ["--config", config, "--log-level", "error"], environment: env, stdout: .capture(limit: 1 << 20))
    guard let t = await p.exit(timeout: 1800), t.status == 0 else {
        p.waitForOutput(timeout: 2)
        throw BenchError(description: "kraken-audit \(args.joined(separator: " ")) failed: \(p.stdoutText.suffix(2000))")
    }
}

/// The hook's deliveries so far: delivery id → the hook's start time (ns), and the withdrawal refids each delivery
/// announced. Each payload file is parsed once: the benchmark polls every few milliseconds, and re-reading every
/// payload each time would compete with `watch` for the two cores it measures.
final class Deliveries {
    let dir: URL
    private(set) var times: [String: UInt64] = [:]
    private(set) var refids: [String: String] = [:]
    private var parsed: Set<String> = []
    private var timesOffset = 0

    init(_ dir: URL) { self.dir = dir }

    func refresh() {
        if let handle = try? FileHandle(forReadingFrom: dir.appendingPathComponent("times.log")) {
            defer { try? handle.close() }
            try? handle.seek(toOffset: UInt64(timesOffset))
            let data = (try? handle.readToEnd()) ?? Data()
            // Only whole lines: the hook may be writing one right now.
            if let last = data.lastIndex(of: UInt8(ascii: "\n")) {
                let text = String(decoding: data[...last], as: UTF8.self)
                timesOffset += last - data.startIndex + 1
                for line in text.split(separator: "\n") {
                    let parts = line.split(separator: " ")
                    if parts.count == 2, let t = UInt64(parts[0]) { times[String(parts[1])] = t }
                }
            }
        }
        for file in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where file.hasSuffix(".json") {
            guard !parsed.contains(file), let data = try? Data(contentsOf: dir.appendingPathComponent(file)),
                let payload = try? JSONValue.parse(Array(data))
            else { continue }
            parsed.insert(file)
            let id = String(file.dropLast(5))
            for f in payload["findings"]?.arrayValue ?? [] where f["rule_id"]?.stringValue == "unexpected_withdrawal" {
                if let e = f["entity_id"]?.stringValue, refids[e] == nil { refids[e] = id }
            }
        }
    }
}

func main() async throws {
    guard ProcessInfo.processInfo.environment["PGHOST"] != nil || ProcessInfo.processInfo.environment["PGPORT"] != nil else {
        throw BenchError(description: "run inside a throw-away cluster: pg_virtualenv -t \(CommandLine.arguments[0]) \(mode)")
    }
    var o = SimulatorOptions()
    o.days = 30
    o.scale = 300
    o.accounts = 1
    o.seed = 29
    o.injections = []
    o.clean = true
    o.maxCounter = 20
    o.decayPerSecond = 1000
    let sim = try await SimulatorServer.start(o, logger: logger)
    defer { Task { await sim.stop() } }
    let admin = try PGConnection(url: "dbname=postgres", logger: logger)
    let dbName = "watchbench_\(UInt32.random(in: 0...UInt32.max))"
    try admin.executeScript("CREATE DATABASE \(dbName)")
    admin.close()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("watch-bench-\(UUID().uuidString)")
    let alerts = dir.appendingPathComponent("alerts")
    try FileManager.default.createDirectory(at: alerts, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let hook = dir.appendingPathComponent("hook.sh").path
    try """
    #!/bin/sh
    t=$(date +%s%N)
    cat > '\(alerts.path)/'"$KRAKEN_AUDIT_DELIVERY_ID".tmp && mv '\(alerts.path)/'"$KRAKEN_AUDIT_DELIVERY_ID".tmp '\(alerts.path)/'"$KRAKEN_AUDIT_DELIVERY_ID".json
    echo "$t $KRAKEN_AUDIT_DELIVERY_ID" >> '\(alerts.path)/times.log'
    """.write(toFile: hook, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
    let a = sim.accounts[0]
    let config = dir.appendingPathComponent("kraken-audit.toml").path
    try """
    [database]
    url = "dbname=\(dbName)"
    [ops]
    timezone = "Europe/Berlin"
    [alerts]
    hook = "\(hook)"
    min_severity = "medium"
    [rules.unexpected_withdrawal]
    max_amount = { XXBT = "0", XETH = "0" }

    [[account]]
    name = "\(a.name)"
    api_key_env = "KEY_0"
    api_secret_env = "SECRET_0"
    api_url = "\(sim.baseURL.absoluteString)"
    ws_url = "\(sim.webSocketURL.absoluteString)"
    rate_limit = { max = 20, decay_per_second = 1000 }
    """.write(toFile: config, atomically: true, encoding: .utf8)
    var env = ProcessInfo.processInfo.environment
    env["KRAKEN_AUDIT_SQL_DIR"] = repo.appendingPathComponent("sql").path
    env["KEY_0"] = a.apiKey
    env["SECRET_0"] = a.secret
    try await run(["migrate"], config: config, env: env)
    try await run(["collect"], config: config, env: env)
    let db = try PGConnection(url: "dbname=\(dbName)", logger: logger)
    defer { db.close() }
    let watch = try ChildProcess.start(
        binary, arguments: ["watch", "--config", config, "--log-level", watchLogLevel], environment: env,
        stdout: .capture(limit: 4 << 20))
    defer { watch.signal(SIGKILL) }
    func waitUntil(_ what: String, seconds: Double, _ condition: () throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            if !watch.isRunning { throw BenchError(description: "watch exited: \(watch.stdoutText.suffix(2000))") }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw BenchError(description: "timed out waiting until \(what)")
    }
    try await waitUntil("watch is subscribed and gap-filled", seconds: 120) {
        try db.query("SELECT count(*) FROM audit.watch_connections WHERE gap_fill_run_id IS NOT NULL").rows[0].decode(0, as: Int.self) > 0
    }
    // The first analysis of each arrival rule starts from scratch (the whole history): let it happen before measuring.
    _ = try await sim.state.plantNow(account: a.name, kind: "withdrawal_unknown_address")
    let deliveries = Deliveries(alerts)
    try await waitUntil("the warm-up alert", seconds: 120) {
        deliveries.refresh()
        return !deliveries.refids.isEmpty
    }

    switch mode {
    case "latency":
        var latencies: [Double] = []
        var stages: [[Double]] = Array(repeating: [], count: 4)
        for _ in 0..<events {
            let t0 = nowNanos()
            guard let refid = try await sim.state.plantNow(account: a.name, kind: "withdrawal_unknown_address").first?.entityID else {
                throw BenchError(description: "the simulator planted nothing")
            }
            var hookTime: UInt64 = 0
            try await waitUntil("the alert of \(refid)", seconds: 60) {
                deliveries.refresh()
                guard let id = deliveries.refids[refid], let t = deliveries.times[id] else { return false }
                hookTime = t
                return true
            }
            latencies.append(Double(hookTime &- t0) / 1e6)
            // Where the time went, from the rows' timestamps (each is its transaction's start, `now()`): the
            // streamed entry stored, its WithdrawStatus answer stored, the finding's analysis, the hook started.
            let row = try db.query(
                """
                SELECT (SELECT extract(epoch FROM min(first_seen_at))::float8 FROM audit.ledger_entries WHERE refid = $1),
                       (SELECT extract(epoch FROM min(first_seen_at))::float8 FROM audit.withdrawals WHERE refid = $1),
                       (SELECT extract(epoch FROM min(first_seen))::float8 FROM audit.findings
                         WHERE entity_id = $1 AND rule_id = 'unexpected_withdrawal')
                """, [refid]
            ).rows[0]
            let marks =
                [Double(t0) / 1e9]
                + (try (0..<3).map { try row.decodeOptional($0, as: Double.self) ?? .nan }) + [Double(hookTime) / 1e9]
            for k in 0..<4 { stages[k].append((marks[k + 1] - marks[k]) * 1000) }
            try await Task.sleep(for: .milliseconds(gapMs))
        }
        let sorted = latencies.sorted()
        print("watch latency: withdrawal booked on Kraken (simulator) -> alert hook started, \(events) events, one at a time")
        print(
            String(
                format: "p50 %.0f ms   p90 %.0f ms   p99 %.0f ms   max %.0f ms   mean %.0f ms", percentile(sorted, 0.5),
                percentile(sorted, 0.9),
                percentile(sorted, 0.99), sorted.last ?? .nan, latencies.reduce(0, +) / Double(max(1, latencies.count))))
        for (k, name) in [
            "booked -> entry stored", "entry -> WithdrawStatus stored", "WithdrawStatus -> finding", "finding -> hook started",
        ]
        .enumerated() {
            let st = stages[k].filter { !$0.isNaN }.sorted()
            print(
                "  " + name.padding(toLength: 32, withPad: " ", startingAt: 0)
                    + String(format: "p50 %5.0f ms   p99 %5.0f ms   (%d events)", percentile(st, 0.5), percentile(st, 0.99), st.count))
        }
        print(String(format: "watch RSS after: %.1f MiB", rssMiB(watch.pid)))
    case "soak":
        var samples: [(Double, Double)] = []
        var planted: [String] = []
        let start = Date()
        var nextSample = start
        var i = 0
        while Date().timeIntervalSince(start) < minutes * 60 {
            if Date() >= nextSample {
                samples.append((Date().timeIntervalSince(start) / 60, rssMiB(watch.pid)))
                print(String(format: "minute %5.1f  watch RSS %7.1f MiB", samples.last!.0, samples.last!.1))
                nextSample = nextSample.addingTimeInterval(sampleSeconds)
            }
            if i % 15 == 14 {
                planted += try await sim.state.plantNow(account: a.name, kind: "withdrawal_unknown_address").map(\.entityID)
            } else {
                _ = try await sim.state.addActivity(account: a.name, trades: 1)
            }
            i += 1
            try await Task.sleep(for: .milliseconds(intervalMs))
        }
        samples.append((Date().timeIntervalSince(start) / 60, rssMiB(watch.pid)))
        try await waitUntil("every planted withdrawal's alert", seconds: 120) {
            deliveries.refresh()
            return planted.allSatisfy { deliveries.refids[$0] != nil }
        }
        // Every ledger entry Kraken booked is stored once the stream has caught up (at a high --interval-ms rate
        // watch may still be working through its backlog or a gap fill): wait for it, and say how long it took.
        let truth = try await sim.state.export(account: a.name)
        let expected = Set(truth.ledger.map(\.id))
        let alertedAt = Date()
        var stored = Set<String>()
        // Polled every 0.5 s: the query reads the whole ledger and must not compete with watch's catching up.
        while true {
            stored = Set(try db.query("SELECT ledger_id FROM audit.ledger_entries").rows.map { try $0.decode(0, as: String.self) })
            if expected.isSubset(of: stored) || Date().timeIntervalSince(alertedAt) > 600 { break }
            if !watch.isRunning { throw BenchError(description: "watch exited: \(watch.stdoutText.suffix(2000))") }
            try await Task.sleep(for: .milliseconds(500))
        }
        print(
            String(
                format: "all of Kraken's ledger entries stored %.1f s after every planted withdrawal was alerted",
                Date().timeIntervalSince(alertedAt)))
        let rss = samples.map(\.1)
        print(
            String(
                format: "soak %.0f min: %d events (%d withdrawals), watch RSS first %.1f MiB, last %.1f MiB, max %.1f MiB", minutes, i,
                planted.count,
                rss.first ?? 0, rss.last ?? 0, rss.max() ?? 0))
        print(
            "ledger entries: stored \(stored.count), Kraken \(expected.count), missing \(expected.subtracting(stored).count), extra \(stored.subtracting(expected).count); planted withdrawals alerted: \(planted.count)/\(planted.count)"
        )
    default:
        throw BenchError(description: "unknown mode '\(mode)': latency or soak")
    }
    watch.signal(SIGTERM)
    _ = await watch.exitOrKill(timeout: 30)
    if watchLogLevel != "error" {
        watch.waitForOutput(timeout: 2)
        print(watch.stdoutText.suffix(20_000))
    }
}

do {
    try await main()
} catch {
    FileHandle.standardError.write(Data("watch-bench: \(error)\n".utf8))
    exit(1)
}
