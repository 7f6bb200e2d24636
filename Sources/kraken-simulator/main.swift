import ArgumentParser
import Foundation
import KrakenAPI
import KrakenSimulator
import Logging

@main
struct KrakenSimulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kraken-simulator",
        abstract: "A faithful offline simulator of Kraken's private REST API, with planted anomalies and faults.",
        discussion: """
            Prints the URL it listens on and one line per account:
              url=http://127.0.0.1:PORT
              account=acct1 key=<API-Key> secret=<base64 secret>
            then serves until SIGINT/SIGTERM. Control endpoints (JSON) live under /_sim/: truth,
            truth/anomalies, accounts, counters[/ACCOUNT], counters/reset, requests, faults (GET/POST/DELETE),
            activity, plant, inject, permissions, address-book, keys, ledger/alter, ledger/delete, order, clock, reset.

            A signed Ledgers call with curl + openssl (bash; set URL, KEY, SECRET from the output):
              NONCE=$(date +%s%3N); BODY="nonce=$NONCE&ofs=0"; P=/0/private/Ledgers
              HEXKEY=$(printf %s "$SECRET" | base64 -d | od -An -v -tx1 | tr -d ' \\n')
              SIG=$( { printf %s "$P"; printf %s "$NONCE$BODY" | openssl dgst -sha256 -binary; } \\
                    | openssl dgst -sha512 -mac HMAC -macopt hexkey:$HEXKEY -binary | base64 -w0 )
              curl -s -X POST "$URL$P" -H "API-Key: $KEY" -H "API-Sign: $SIG" \\
                   -H "Content-Type: application/x-www-form-urlencoded" --data "$BODY"

            Faults: --faults "http_520=0.05,connection_reset=0.02,live_inserts:3" (kind=rate per request, or
            kind:count for the next N requests). Kinds: \(FaultKind.allCases.map(\.rawValue).joined(separator: ", ")).

            Ground truth (--truth-file, GET /_sim/truth): {"seed","clean","history_start","history_end","timezone",
            "business_hours","accounts":[{"account","normal_withdrawal_addresses":{ASSET:[{"address","key"}]},...}],
            "anomalies":[{"id","kind","rule","account","entity_type","entity_id","time","unixtime","details"}],
            "armed":[...]}.
            """)

    @Option(help: "Listen address (a non-loopback address prints a WARNING; /_sim control requests are only answered on loopback).")
    var host = "127.0.0.1"
    @Option(help: "Port (0: ephemeral).") var port = 0
    @Option(help: "Seed of the history, keys and faults.") var seed: UInt64 = 1
    @Option(help: "Days of history.") var days = 120
    @Option(help: "Number of accounts.") var accounts = 2
    @Option(help: "Approximate ledger entries per account.") var scale = 3000
    @Option(help: "History end date YYYY-MM-DD (UTC midnight; default: today, so the data is recent).") var end: String?
    @Option(help: "Time zone of business hours.") var timezone = "Europe/Berlin"
    @Option(help: "Business hours HH:MM-HH:MM (Mon-Fri).") var businessHours = "08:00-20:00"
    @Option(help: "Rate-limit tier (Kraken verification level: counter maximum and decay).") var tier: Tier = .starter
    @Option(name: .customLong("max"), help: "Override the counter maximum.") var maxCounter: Double?
    @Option(help: "Override the counter decay per second.") var decay: Double?
    @Option(name: .customLong("cost"), help: "Counter cost of a method, METHOD=N (repeatable).") var costs: [String] = []
    @Option(help: "Fault switches, comma separated: kind=rate or kind:count.") var faults: String?
    @Option(help: "Seed of fault decisions (combined with --seed).") var faultSeed: UInt64 = 0
    @Option(help: "Delay of the slow fault, seconds.") var slowSeconds: Double = 35
    @Option(help: "Jump of the clock_jump fault, seconds.") var clockJumpSeconds: Double = -3600
    @Flag(help: "Plant no anomalies (for false-positive tests).") var clean = false
    @Flag(help: "No run-time injections (nonce errors, permission-denied burst).") var noInjections = false
    @Option(help: "Permissions of every key, comma separated.") var defaultPermissions =
        "query-funds,query-open-trades,query-closed-trades,query-ledger,create-ws-token"
    @Option(name: .customLong("permissions"), help: "Per-account permissions ACCOUNT=p1,p2 (repeatable).") var accountPermissions:
        [String] = []
    @Flag(help: "Use the stricter permission reading where sources disagree.") var strictPermissions = false
    @Option(help: "Nonce window of every key.") var nonceWindow: UInt64 = 0
    @Option(help: "Consecutive failures before the temporary lockout.") var lockoutThreshold = 5
    @Option(help: "Lockout length, seconds.") var lockoutSeconds: Double = 900
    @Option(help: "Write the ground truth JSON here (rewritten as run-time anomalies fire).") var truthFile: String?
    @Option(help: "Write the URL and credentials as JSON here (mode 0600).") var credentialsFile: String?
    @Option(help: "Log level (trace, debug, info, notice, warning, error).") var logLevel = "notice"
    @Option(help: "Data exports: seconds a report stays Queued.") var exportQueuedSeconds: Double = 1
    @Option(help: "Data exports: seconds a report stays Processing before Processed.") var exportProcessingSeconds: Double = 2
    @Option(help: "Data exports: file layout generation, classic or current.") var exportHeader = "current"
    @Option(help: "Only measure generating this many ledger entries, print the time and exit.") var benchmarkGenerate: Int?

    /// Entry point: no core dumps (the process holds every simulated account's secret), then the command.
    static func main() async {
        for failure in ProcessHardening.disableCoreDumps() {
            FileHandle.standardError.write(Data("kraken-simulator: warning: \(failure)\n".utf8))
        }
        await main(nil)
    }

    func run() async throws {
        if let n = benchmarkGenerate {
            let r = HistoryBenchmark.run(ledgerEntries: n, seed: seed)
            print("generated \(r.ledger) ledger entries, \(r.trades) trades, \(r.orders) orders in \(String(format: "%.2f", r.seconds)) s")
            return
        }
        var options = SimulatorOptions()
        options.host = host
        options.port = port
        options.seed = seed
        options.days = days
        options.accounts = accounts
        options.scale = scale
        if let end {
            guard let s = Self.parseDate(end) else { throw ValidationError("--end must be YYYY-MM-DD") }
            options.endSeconds = s
        }
        options.timeZone = timezone
        let hours = businessHours.split(separator: "-").compactMap { Self.minutes(String($0)) }
        guard hours.count == 2 else { throw ValidationError("--business-hours must look like 08:00-20:00") }
        options.businessStartMinute = hours[0]
        options.businessEndMinute = hours[1]
        options.tier = tier
        options.maxCounter = maxCounter
        options.decayPerSecond = decay
        for c in costs {
            let kv = c.split(separator: "=")
            guard kv.count == 2, let v = Double(kv[1]) else { throw ValidationError("--cost must look like Ledgers=2") }
            options.costs[String(kv[0])] = v
        }
        if let faults {
            options.faults = try faults.split(separator: ",").map { try FaultRule.parse(String($0)) }
        }
        options.faultSeed = faultSeed
        options.slowSeconds = slowSeconds
        options.clockJumpSeconds = clockJumpSeconds
        options.clean = clean
        if noInjections { options.injections = [] }
        options.exportQueuedSeconds = exportQueuedSeconds
        options.exportProcessingSeconds = exportProcessingSeconds
        guard let generation = ExportHeaderGeneration(rawValue: exportHeader) else {
            throw ValidationError("--export-header must be classic or current, not '\(exportHeader)'")
        }
        options.exportHeader = generation
        options.permissions = defaultPermissions.split(separator: ",").map(String.init)
        for p in accountPermissions {
            let kv = p.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { throw ValidationError("--permissions must look like acct2=query-funds,query-ledger") }
            options.accountPermissions[String(kv[0])] = kv[1].split(separator: ",").map(String.init)
        }
        options.strictPermissions = strictPermissions
        options.nonceWindow = nonceWindow
        options.lockoutThreshold = lockoutThreshold
        options.lockoutSeconds = lockoutSeconds
        options.truthFile = truthFile

        if !ControlAccess.isLoopbackListenAddress(host) {
            // Loud and independent of --log-level: the simulator hands out API secrets and has no authentication.
            FileHandle.standardError.write(
                Data(
                    """
                    kraken-simulator: WARNING: --host \(host) is not a loopback address: every machine that can reach it can \
                    call the simulated Kraken API. The /_sim control endpoints (which return the simulated API secrets) \
                    refuse non-loopback clients with 403. Use --host 127.0.0.1 unless you need remote access.

                    """.utf8))
        }
        var logger = Logger(label: "kraken-simulator")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .notice
        let sim = try await SimulatorServer.start(options, logger: logger, shutdownSignals: [.sigterm, .sigint])
        if let credentialsFile {
            try SimulatorFiles.writeCredentials(sim.accounts, baseURL: sim.baseURL, to: credentialsFile)
        }
        // Written unbuffered: a parent process reads these lines from a pipe while the server runs.
        var lines = "url=\(sim.baseURL.absoluteString)\n"
        for a in sim.accounts {
            lines += "account=\(a.name) key=\(a.apiKey) secret=\(a.secret) permissions=\(a.permissions.joined(separator: ","))\n"
        }
        FileHandle.standardOutput.write(Data(lines.utf8))
        try await sim.waitUntilStopped()
    }

    static func minutes(_ text: String) -> Int? {
        let p = text.split(separator: ":")
        guard p.count == 2, let h = Int(p[0]), let m = Int(p[1]), (0...24).contains(h), (0..<60).contains(m) else { return nil }
        return h * 60 + m
    }

    static func parseDate(_ text: String) -> Int64? {
        let p = text.split(separator: "-")
        guard p.count == 3, let y = Int(p[0]), let m = Int(p[1]), let d = Int(p[2]) else { return nil }
        var c = DateComponents()
        (c.year, c.month, c.day) = (y, m, d)
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = .gmt
        return cal.date(from: c).map { Int64($0.timeIntervalSince1970) }
    }
}

/// `--tier` takes the tier's name; `--help` lists them and any other value is a usage error (exit 64).
extension Tier: ExpressibleByArgument {}
