// Collector benchmarks (issue 5). Prints figures; asserts nothing. Run inside a throw-away cluster:
//   swift build -c release --product collector-bench --product kraken-simulator
//   pg_virtualenv -t .build/release/collector-bench floor --scale 20000 --decay 40
//   pg_virtualenv -t .build/release/collector-bench increment --scale 20000 --new-trades 500
//   pg_virtualenv -t .build/release/collector-bench ingest --scale 100000
// The simulator runs as a separate process (so peak RSS is the collector's own).
import AuditConfig
import AuditKernel
import AuditStore
import ChildProcesses
import Collector
import Foundation
import KrakenAPI
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

struct BenchError: Error, CustomStringConvertible {
    let description: String
}

func arg(_ name: String, _ def: Double) -> Double {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count, let v = Double(a[i + 1]) { return v }
    return def
}

let mode = CommandLine.arguments.dropFirst().first ?? "floor"
let scale = Int(arg("--scale", 20000))
let decay = arg("--decay", 40)
let maxCounter = arg("--max", 20)
let newTrades = Int(arg("--new-trades", 500))
let repo: URL = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
}()
let binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let logger: Logger = {
    var l = Logger(label: "bench")
    l.logLevel = .error
    return l
}()

func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Starts `kraken-simulator` and returns its URL, account key and secret.
func startSimulator(counterOff: Bool) throws -> (ChildProcess, String, String, String) {
    var args = [
        "--seed", "3", "--accounts", "1", "--scale", String(scale), "--days", String(max(30, scale / 150)), "--clean", "--no-injections",
        "--port", "0", "--end", "2026-11-01",
    ]
    args += counterOff ? ["--max", "1000000000", "--decay", "1000000000"] : ["--max", String(maxCounter), "--decay", String(decay)]
    let p = try ChildProcess.start(
        binDir.appendingPathComponent("kraken-simulator").path, arguments: args, environment: ProcessInfo.processInfo.environment,
        stdout: .capture(limit: 1 << 16), stderr: .discard)
    var text = ""
    while !text.contains("account=acct1") {
        if !p.isRunning { throw BenchError(description: "simulator exited: \(p.stdoutText)") }
        usleep(20_000)
        text = p.stdoutText
    }
    func field(_ name: String) -> String {
        for line in text.split(separator: "\n") {
            for part in line.split(separator: " ") where part.hasPrefix(name + "=") { return String(part.dropFirst(name.count + 1)) }
        }
        return ""
    }
    return (p, field("url"), field("key"), field("secret"))
}

func control(_ url: String, _ path: String, post body: String? = nil) async throws -> JSONValue {
    var r = URLRequest(url: URL(string: url + path)!)
    if let body {
        r.httpMethod = "POST"
        r.httpBody = Data(body.utf8)
        r.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    let (data, _) = try await URLSession.shared.data(for: r)
    return try JSONValue.parse(Array(data))
}

func makeDatabase() throws -> String {
    let admin = try PGConnection(url: "dbname=postgres", logger: logger)
    defer { admin.close() }
    let name = "ka_bench_\(getpid())"
    try admin.executeScript("DROP DATABASE IF EXISTS \(name)")
    try admin.executeScript("CREATE DATABASE \(name)")
    let db = try PGConnection(url: "dbname=\(name)", logger: logger)
    defer { db.close() }
    try Migrator(directory: repo.appendingPathComponent("sql/migrations"), logger: logger).migrate(on: db)
    return "dbname=\(name)"
}

func collector(url: String, key: String, secret: String, dbURL: String, counterOff: Bool) throws -> Collector {
    let limit = counterOff ? "{ max = 1000000000, decay_per_second = 1000000000 }" : "{ max = \(maxCounter), decay_per_second = \(decay) }"
    let config = try ConfigLoader.parse(
        """
        [database]
        url = "\(dbURL)"
        [[account]]
        name = "acct1"
        api_key_env = "X"
        api_secret_env = "Y"
        api_url = "\(url)"
        rate_limit = \(limit)
        """, path: "bench.toml")
    return Collector(config: config, credentials: { _ in KrakenCredentials(apiKey: key, secret: Secret(secret)) }, logger: logger)
}

func totals(_ o: [AccountOutcome]) throws -> (calls: Int, cost: Double, rows: Int, perEndpoint: [(String, Int, Int)]) {
    guard let a = o.first else { throw BenchError(description: "no outcome") }
    if let e = a.error { throw BenchError(description: "collection failed: \(e)") }
    var calls = 0
    var cost = 0.0
    var rows = 0
    var per: [(String, Int, Int)] = []
    for (endpoint, s) in a.endpoints.sorted(by: { $0.key < $1.key }) {
        calls += s.calls
        cost += Double(s.calls) * CallCost.of(endpoint)
        rows += s.rows.inserted
        per.append((endpoint, s.calls, s.rows.inserted))
    }
    return (calls, cost, rows, per)
}

func run() async throws {
    let counterOff = mode == "ingest"
    let (sim, url, key, secret) = try startSimulator(counterOff: counterOff)
    defer { sim.signal(SIGTERM) }
    let dbURL = try makeDatabase()
    let c = try collector(url: url, key: key, secret: secret, dbURL: dbURL, counterOff: counterOff)
    let started = Date()
    let first = await c.collect()
    let elapsed = Date().timeIntervalSince(started)
    let collectorRSS = peakRSSMiB()  // before the benchmark itself loads rows for the COPY comparison
    let t = try totals(first)
    switch mode {
    case "floor":
        let counter = try await control(url, "/_sim/counters/acct1")
        // Kraken's counter formula: the first `max` points are free, every further point takes 1/decay s.
        let floor = max(0, (t.cost - maxCounter) / decay)
        print("rate-limit floor benchmark: \(scale) ledger entries, counter max \(maxCounter), decay \(decay)/s")
        for (e, calls, rows) in t.perEndpoint { print("  \(e): \(calls) calls, \(rows) rows") }
        print("calls: \(t.calls), counter points: \(Int(t.cost))")
        print(String(format: "floor: %.2f s   time: %.2f s   ratio: %.3f", floor, elapsed, elapsed / max(floor, 0.001)))
        print(
            "rate-limit errors: \(counter["rate_limited"]?.numberText ?? "?"), max counter seen by Kraken: \(counter["max_counter_ever"]?.numberText ?? "?") (max \(maxCounter))"
        )
    case "increment":
        _ = try await control(url, "/_sim/activity", post: "{\"account\":\"acct1\",\"trades\":\(newTrades)}")
        try await Task.sleep(for: .seconds(3))  // past the collector's settle margin
        let again = await c.collect()
        let t2 = try totals(again)
        print("incremental benchmark: \(newTrades) new trades (\(2 * newTrades) ledger entries) after a full collection of \(scale)")
        for (e, calls, rows) in t2.perEndpoint {
            let bound =
                e == "Ledgers"
                ? Int((Double(2 * newTrades) / 50).rounded(.up))
                : (e == "TradesHistory" || e == "ClosedOrders" ? Int((Double(newTrades) / 50).rounded(.up)) : 0)
            print("  \(e): \(calls) calls, \(rows) new rows\(bound > 0 ? " (ceil(N/50) = \(bound))" : "")")
        }
        print("total calls: \(t2.calls)")
    case "ingest":
        let rate = Double(t.rows) / elapsed
        // A plain COPY of the same ledger rows into the same table (as another account), in this run.
        let db = try PGConnection(url: dbURL, logger: logger)
        defer { db.close() }
        let rows = try db.query(
            "SELECT ledger_id, refid, time, type, subtype, aclass, asset, amount, fee, balance, raw::text FROM audit.ledger_entries"
        ).rows
        let other = try AccountStore.ensure(on: db, name: "copy-target")
        let copyStart = Date()
        try db.copyIn(
            "audit.ledger_entries (account_id, ledger_id, refid, time, type, subtype, aclass, asset, amount, fee, balance, raw)",
            rows: rows.map { r in [other] + r.values.map { $0 as (any PGEncodable)? } })
        let copyElapsed = Date().timeIntervalSince(copyStart)
        let ledgerRows = rows.count
        let ledgerStats = first.first?.endpoints["Ledgers"]
        print("ingest benchmark (counter off): \(scale) ledger entries requested")
        print(
            String(
                format: "collector: %d rows (all endpoints) in %.2f s = %.0f rows/s; Ledgers alone %d rows", t.rows, elapsed, rate,
                ledgerStats?.rows.inserted ?? 0))
        print(
            String(
                format: "plain COPY of the %d ledger rows: %.2f s = %.0f rows/s; collector/COPY ratio %.3f", ledgerRows, copyElapsed,
                Double(ledgerRows) / copyElapsed, rate / (Double(ledgerRows) / copyElapsed)))
        print(String(format: "peak RSS of the collector during collection: %.1f MiB", collectorRSS))
    default:
        throw BenchError(description: "usage: collector-bench floor|increment|ingest [--scale N] [--decay D] [--max M] [--new-trades N]")
    }
    let admin = try PGConnection(url: "dbname=postgres", logger: logger)
    _ = try? admin.executeScript("DROP DATABASE IF EXISTS \(dbURL.replacingOccurrences(of: "dbname=", with: "")) WITH (FORCE)")
}

do {
    try await run()
} catch {
    FileHandle.standardError.write(Data("collector-bench: \(error)\n".utf8))
    exit(1)
}
