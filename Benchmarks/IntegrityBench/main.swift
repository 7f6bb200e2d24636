// Integrity benchmark (issue 17). Prints figures; asserts nothing. Run inside a throw-away cluster:
//   swift build -c release --scratch-path .build-release --product integrity-bench
//   pg_virtualenv -t .build-release/release/integrity-bench 1000000
// Builds a database with N ledger entries (appended through the chain trigger, as the collector and the export
// import append them), seals it, then times a full verification, an incremental one after 1,000 more rows,
// and the seal.
import AuditStore
import Foundation
import Integrity
import Logging

struct BenchError: Error, CustomStringConvertible {
    let description: String
}

let rows = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 1_000_000
let repo: URL = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
}()
let logger: Logger = {
    var l = Logger(label: "integrity-bench")
    l.logLevel = .error
    return l
}()

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let t = Date()
    try body()
    return Date().timeIntervalSince(t)
}

func fmt(_ x: Double) -> String { String(format: "%.2f", x) }

let db = try PGConnection(logger: logger)
_ = try Migrator(directory: repo.appendingPathComponent("sql/migrations"), logger: logger).migrate(on: db)
let account = try db.query("INSERT INTO audit.accounts (name) VALUES ('bench') RETURNING id").rows[0].decode(0, as: Int.self)

/// `n` ledger entries shaped like Kraken's (raw object with every field), appended in batches of 50,000.
func append(_ n: Int, from start: Int) throws {
    var done = 0
    while done < n {
        let batch = min(50_000, n - done)
        try db.execute(
            """
            INSERT INTO audit.ledger_entry_versions (account_id, ledger_id, refid, time, type, subtype, aclass, asset, amount, fee,
                                                     balance, raw)
            SELECT $1, 'L' || lpad(g::text, 8, '0') || '-BENCH-' || lpad(g::text, 8, '0'), 'T' || g, timestamptz '2026-01-01' + g * interval '1 second',
                   'trade', '', 'currency', 'XXBT', (g % 1000) / 1000.0, 0.0001, g / 100.0,
                   jsonb_build_object('refid', 'T' || g, 'time', 1767225600 + g, 'type', 'trade', 'subtype', '', 'aclass', 'currency',
                                      'asset', 'XXBT', 'amount', ((g % 1000) / 1000.0)::text, 'fee', '0.0001', 'balance', (g / 100.0)::text)
              FROM generate_series($2::int, $3::int) g
            """, [account, start + done, start + done + batch - 1])
        done += batch
    }
}

print("integrity-bench: \(rows) ledger entries")
let appendTime = try seconds { try append(rows, from: 1) }
print("append through the chain trigger: \(fmt(appendTime)) s = \(Int(Double(rows) / appendTime)) rows/s")
let key = try Ed25519PrivateKey.generate()
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("integrity-bench-\(UUID().uuidString)").path
defer { try? FileManager.default.removeItem(atPath: directory) }
let archive = DigestArchive(directory: directory)
let sealer = Sealer(db: db, key: key, archive: archive, hook: nil, logger: logger)
let sealTime = try seconds { _ = try sealer.seal() }
print("seal: \(fmt(sealTime)) s")
let verifier = IntegrityVerifier(db: db, publicKey: key.publicKey, archive: archive, logger: logger)
var report: IntegrityVerifier.Report? = nil
let fullTime = try seconds { report = try verifier.verify(mode: .full) }
guard let full = report, full.intact else { throw BenchError(description: "verification found problems: \(report?.problems ?? [])") }
print(
    "verify, full: \(full.rowsChecked) rows in \(fmt(fullTime)) s = \(Int(Double(full.rowsChecked) / fullTime)) rows/s (target >= 200,000)")
try append(1000, from: rows + 1)
let incrementalTime = try seconds { report = try verifier.verify(mode: .incremental) }
print("verify, incremental after 1,000 new rows: \(report?.rowsChecked ?? 0) rows in \(fmt(incrementalTime)) s")
db.close()
