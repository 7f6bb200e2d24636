import AuditStore
import Foundation
import Logging

/// A throw-away database in the PostgreSQL cluster that `scripts/test` starts with `pg_virtualenv`
/// (its `PG*` variables). Each suite makes its own, so suites run in parallel.
public final class TestDatabase: Sendable {
    public let name: String
    public let url: String

    /// The error a test gets when no cluster is available: run the suite through `scripts/test`.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// Creates a database named `ka_<prefix>_<random>`.
    public init(_ prefix: String) throws {
        guard ProcessInfo.processInfo.environment["PGHOST"] != nil || ProcessInfo.processInfo.environment["PGPORT"] != nil else {
            throw Unavailable(
                description:
                    "no PostgreSQL cluster in the environment (PGHOST/PGPORT unset): run the tests through scripts/test, which starts one with pg_virtualenv"
            )
        }
        let admin = try PGConnection(url: "dbname=postgres", logger: TestDatabase.logger)
        defer { admin.close() }
        let n = "ka_\(prefix.lowercased().filter { $0.isLetter || $0.isNumber })_\(UInt32.random(in: 0...UInt32.max))"
        // A database name cannot be a bind parameter; `n` is built from [a-z0-9_] only.
        try admin.executeScript("CREATE DATABASE \(n)")
        name = n
        url = "dbname=\(n)"
    }

    /// Opens a new connection to this database.
    public func connect() throws -> PGConnection {
        try PGConnection(url: url, logger: TestDatabase.logger)
    }

    /// Opens a connection and applies the project's migrations.
    public func migrated() throws -> PGConnection {
        let db = try connect()
        try Migrator(directory: TestDatabase.sqlDirectory.appendingPathComponent("migrations"), logger: TestDatabase.logger).migrate(on: db)
        return db
    }

    deinit {
        if let admin = try? PGConnection(url: "dbname=postgres", logger: TestDatabase.logger) {
            _ = try? admin.executeScript("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            admin.close()
        }
    }

    /// The repository's `sql/` directory.
    public static let sqlDirectory: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("sql")
    }()

    public static let logger: Logger = {
        var l = Logger(label: "kraken-audit.test")
        l.logLevel = .warning
        return l
    }()
}
