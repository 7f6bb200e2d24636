import AuditStore
import Foundation
import TestSupport
import Testing

@Suite struct MigrationTests {
    let database: TestDatabase
    init() throws { database = try TestDatabase("migrate") }

    func migrations(in dir: URL) throws -> Migrator {
        try Migrator(directory: dir, logger: TestDatabase.logger)
    }

    func tempDir(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-mig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return dir
    }

    @Test func projectMigrationsApplyFreshAndRerunIsNoOp() throws {
        let db = try database.connect()
        let m = try migrations(in: TestDatabase.sqlDirectory.appendingPathComponent("migrations"))
        let first = try m.migrate(on: db)
        #expect(first.count == m.migrations.count)
        #expect(first.first?.version == 1)
        #expect(try m.migrate(on: db).isEmpty)
        #expect(try m.status(on: db).isCurrent)
        for table in [
            "accounts", "api_keys", "api_calls", "collector_runs", "ledger_entries", "trades", "orders", "withdrawals", "deposits",
            "balances", "findings",
        ] {
            let exists = try db.query("SELECT to_regclass($1) IS NOT NULL", ["audit.\(table)"]).rows[0].decode(0, as: Bool.self)
            #expect(exists, "audit.\(table)")
        }
        // The secret has no column to go to.
        let cols = try db.query("SELECT column_name FROM information_schema.columns WHERE table_schema='audit' AND table_name='api_keys'")
            .rows.map { try $0.decode(0, as: String.self) }
        #expect(!cols.contains { $0.contains("secret") })
    }

    @Test func changedFileIsRefused() throws {
        let db = try database.connect()
        let dir = try tempDir(["0001_a.sql": "CREATE TABLE audit.t1 (n int);", "0002_b.sql": "CREATE TABLE audit.t2 (n int);"])
        try migrations(in: dir).migrate(on: db)
        try "CREATE TABLE audit.t1 (n bigint);".write(to: dir.appendingPathComponent("0001_a.sql"), atomically: true, encoding: .utf8)
        try "CREATE TABLE audit.t3 (n int);".write(to: dir.appendingPathComponent("0003_c.sql"), atomically: true, encoding: .utf8)
        let error = #expect(throws: MigrationError.self) { try migrations(in: dir).migrate(on: db) }
        guard case .checksumMismatch(let version, _, _, _) = error else {
            Issue.record("expected checksumMismatch, got \(String(describing: error))")
            return
        }
        #expect(version == 1)
        #expect(error?.description.contains("never edit an applied migration") == true)
        // Nothing after the refusal was applied.
        #expect(try db.query("SELECT to_regclass('audit.t3') IS NULL").rows[0].decode(0, as: Bool.self))
    }

    @Test func failingMigrationRollsBackCompletely() throws {
        let db = try database.connect()
        let dir = try tempDir([
            "0001_ok.sql": "CREATE TABLE audit.ok (n int);", "0002_bad.sql": "CREATE TABLE audit.half (n int); SELECT no_such_function();",
        ])
        let error = #expect(throws: MigrationError.self) { try migrations(in: dir).migrate(on: db) }
        guard case .failed(let v, _, let pg) = error else {
            Issue.record("expected failed, got \(String(describing: error))")
            return
        }
        #expect(v == 2)
        #expect(pg.sqlState == "42883")
        #expect(try db.query("SELECT to_regclass('audit.half') IS NULL").rows[0].decode(0, as: Bool.self))
        #expect(try migrations(in: dir).status(on: db).applied == [1])
    }

    @Test func databaseNewerThanFilesIsRefused() throws {
        let db = try database.connect()
        try migrations(in: try tempDir(["0001_a.sql": "SELECT 1;", "0002_b.sql": "SELECT 2;"])).migrate(on: db)
        let older = try migrations(in: try tempDir(["0001_a.sql": "SELECT 1;"]))
        #expect(try older.status(on: db).unknown == [2])
        let error = #expect(throws: MigrationError.self) { try older.migrate(on: db) }
        guard case .databaseNewer(let versions) = error else {
            Issue.record("expected databaseNewer, got \(String(describing: error))")
            return
        }
        #expect(versions == [2])
    }

    @Test func badFileNamesAreRefused() throws {
        #expect(throws: MigrationError.self) { try migrations(in: try tempDir(["1_x.sql": "SELECT 1;"])) }
        #expect(throws: MigrationError.self) { try migrations(in: try tempDir(["0001_a.sql": "", "0001_b.sql": ""])) }
    }

    @Test func concurrentRunsAreSerialised() async throws {
        // A slow migration: without the advisory lock, the second runner would try to apply it too and fail.
        let dir = try tempDir([
            "0001_slow.sql": "SELECT pg_sleep(0.3); CREATE TABLE audit.once (n int);",
            "0002_more.sql": "INSERT INTO audit.once VALUES (1);",
        ])
        let m = try migrations(in: dir)
        let url = database.url
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let db = try PGConnection(url: url, logger: TestDatabase.logger)
                    defer { db.close() }
                    return try await db.run { try m.migrate(on: $0).count }
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(results.sorted() == [0, 0, 0, 2])
        let db = try database.connect()
        #expect(try db.query("SELECT count(*) FROM audit.once").rows[0].decode(0, as: Int.self) == 1)
    }
}
