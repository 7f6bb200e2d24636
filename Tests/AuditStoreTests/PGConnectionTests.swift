import AuditStore
import Foundation
import TestSupport
import Testing

@Suite struct PGConnectionTests {
    let database: TestDatabase
    init() throws { database = try TestDatabase("pgconn") }

    @Test func numericWithThirtyDigitsRoundTripsExactly() throws {
        let db = try database.connect()
        try db.executeScript("CREATE TEMP TABLE t (v numeric)")
        let values = [
            "123456789012345678901234567890", "0.123456789012345678901234567890", "-98765432109876543210.1234567890",
            "0.0000000001", "-24.5000", "1E-40",
        ]
        for v in values { try db.execute("INSERT INTO t VALUES ($1)", [ExactDecimal(v)!]) }
        let copied = try db.copyIn("t (v)", rows: values.map { [ExactDecimal($0)!] })
        #expect(copied == values.count)
        let got = try db.query("SELECT v FROM t").rows.map { try $0.decode(0, as: ExactDecimal.self).text }
        let expected = values.map { $0 == "1E-40" ? "0.0000000000000000000000000000000000000001" : $0 }
        #expect(got == expected + expected)
        // Arithmetic in the database stays exact too.
        let sum = try db.query("SELECT $1::numeric + $2::numeric", [ExactDecimal("0.1")!, ExactDecimal("0.2")!]).rows[0]
        #expect(try sum.decode(0, as: ExactDecimal.self).text == "0.3")
    }

    @Test func bindsAreNeverInterpreted() throws {
        let db = try database.connect()
        try db.executeScript("CREATE TEMP TABLE names (n text)")
        let hostile = "x'); DROP TABLE names; --\t\\N\n€"
        try db.execute("INSERT INTO names VALUES ($1)", [hostile])
        try db.copyIn("names (n)", rows: [[hostile], [nil]])
        let rows = try db.query("SELECT n FROM names ORDER BY n NULLS LAST").rows
        #expect(try rows.map { try $0.decodeOptional(0, as: String.self) } == [hostile, hostile, nil])
    }

    @Test func typedValuesRoundTrip() throws {
        let db = try database.connect()
        let date = Date(timeIntervalSince1970: 1_688_667_796.880_2)
        let row = try db.query(
            "SELECT $1::timestamptz, $2::bigint, $3::boolean, $4::bytea, $5::text IS NULL",
            [date, Int64.max, true, PGBytes([0, 1, 254, 255]), nil]
        ).rows[0]
        #expect(abs(try row.decode(0, as: Date.self).timeIntervalSince1970 - 1_688_667_796.880_2) < 0.000_001)
        #expect(try row.decode(1, as: Int64.self) == Int64.max)
        #expect(try row.decode(2, as: Bool.self))
        #expect(try row.decode(3, as: PGBytes.self) == PGBytes([0, 1, 254, 255]))
        #expect(try row.decode(4, as: Bool.self))
        #expect(throws: PGError.self) { try row.decode(0, as: Int.self) }
    }

    @Test func transactionsCommitAndRollBack() throws {
        let db = try database.connect()
        try db.executeScript("CREATE TEMP TABLE tx (n int PRIMARY KEY)")
        struct Boom: Error {}
        try db.transaction { try db.execute("INSERT INTO tx VALUES (1)") }
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.execute("INSERT INTO tx VALUES (2)")
                throw Boom()
            }
        }
        // Nested: the inner failure rolls back to its savepoint only.
        try db.transaction {
            try db.execute("INSERT INTO tx VALUES (3)")
            _ = try? db.transaction {
                try db.execute("INSERT INTO tx VALUES (4)")
                throw Boom()
            }
        }
        let n = try db.query("SELECT array_agg(n ORDER BY n)::text FROM tx").rows[0].decode(0, as: String.self)
        #expect(n == "{1,3}")
    }

    /// `execute(_:_:meanwhile:)` (the bulk chain append's pipeline): the client's work runs while the server runs
    /// the statement, and after a server error or a client error the connection takes the next command.
    @Test func executeMeanwhileOverlapsAndLeavesTheConnectionUsable() throws {
        let db = try database.connect()
        try db.executeScript("CREATE TEMP TABLE m (v integer)")
        let watcher = try database.connect()
        let backend = try db.query("SELECT pg_backend_pid()").rows[0].decode(0, as: Int.self)
        var ranDuringStatement = false
        let inserted = try db.execute("INSERT INTO m SELECT i FROM generate_series(1, $1::integer) i, pg_sleep(2)", [5]) {
            // Seen from another session: this session's statement is running while the client works.
            for _ in 0..<200 where !ranDuringStatement {
                ranDuringStatement =
                    try watcher.query("SELECT state = 'active' FROM pg_stat_activity WHERE pid = $1", [backend]).rows.first?.decode(
                        0, as: Bool.self) ?? false
                if !ranDuringStatement { Thread.sleep(forTimeInterval: 0.005) }
            }
        }
        #expect(inserted == 5 && ranDuringStatement)
        struct ClientFailed: Error {}
        #expect(throws: ClientFailed.self) { try db.execute("INSERT INTO m VALUES (6)") { throw ClientFailed() } }
        let serverError = #expect(throws: PGError.self) { try db.execute("INSERT INTO m VALUES ('x')") {} }
        #expect(serverError?.sqlState == "22P02")
        #expect(try db.query("SELECT count(*) FROM m").rows[0].decode(0, as: Int.self) == 6, "the statement of the failed client work ran")
    }

    @Test func errorsCarrySQLState() throws {
        let db = try database.connect()
        try db.executeScript("CREATE TEMP TABLE u (n int PRIMARY KEY)")
        try db.execute("INSERT INTO u VALUES (1)")
        let dup = #expect(throws: PGError.self) { try db.execute("INSERT INTO u VALUES ($1)", [1]) }
        #expect(dup?.sqlState == "23505")
        #expect(dup?.isUniqueViolation == true)
        #expect(dup?.detail?.contains("(n)=(1)") == true)
        let copy = #expect(throws: PGError.self) { try db.copyIn("u (n)", rows: [["2"], ["not a number"]]) }
        #expect(copy?.sqlState == "22P02")
        #expect(copy?.kind == .copy)
        // A failed COPY leaves nothing behind and the connection usable.
        #expect(try db.query("SELECT count(*) FROM u").rows[0].decode(0, as: Int.self) == 1)
        let syntax = #expect(throws: PGError.self) { try db.query("SELEC 1") }
        #expect(syntax?.sqlState == "42601")
    }

    @Test func advisoryLocksExcludeOtherSessions() throws {
        let a = try database.connect()
        let b = try database.connect()
        #expect(try a.tryAdvisoryLock(42))
        #expect(try !b.tryAdvisoryLock(42))
        #expect(try a.advisoryUnlock(42))
        #expect(try b.tryAdvisoryLock(42))
        a.close()
        b.close()  // closing a session releases its locks
        let c = try database.connect()
        #expect(try c.tryAdvisoryLock(42))
    }

    @Test func wrongURLGivesOneReadableLine() {
        let error = #expect(throws: PGError.self) {
            try PGConnection(url: "postgresql://nobody:hunter2secret@127.0.0.1:1/none?connect_timeout=2", logger: TestDatabase.logger)
        }
        let text = error?.description ?? ""
        #expect(error?.kind == .connection)
        #expect(!text.contains("\n"))
        #expect(!text.contains("hunter2secret"))
        #expect(text.contains("cannot connect to PostgreSQL"))
        let unknownDB = #expect(throws: PGError.self) { try PGConnection(url: "dbname=does_not_exist_here", logger: TestDatabase.logger) }
        #expect(unknownDB?.description.contains("does_not_exist_here") == true)
    }

    @Test func runHopsOffTheCooperativePool() async throws {
        let db = try database.connect()
        let holder = try database.connect()
        #expect(try holder.tryAdvisoryLock(7))
        // A blocking lock wait runs on the connection's own thread; releasing it from here must still work.
        async let waited: Void = db.run { try $0.advisoryLock(7) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(try holder.advisoryUnlock(7))
        try await waited
        #expect(try !holder.tryAdvisoryLock(7))
    }
}

@Suite struct ExactDecimalTests {
    @Test func normalisation() {
        let cases: [(String, String)] = [
            ("-600.20e00", "-600.2"), ("0.0200e000000", "0.02"), ("1E+2", "100"), ("1.5e-3", "0.0015"), ("+007.50", "7.5"),
            ("-0.000", "0"), ("123", "123"), ("12.3400", "12.34"), (".5", "0.5"), ("5.", "5"),
        ]
        for (text, expected) in cases { #expect(ExactDecimal(text)?.normalized == expected, "\(text)") }
        for bad in ["", "-", "1e", "1e1000", "abc", "1.2.3", "--1", "1e+", "0x10"] { #expect(ExactDecimal(bad) == nil, "\(bad)") }
    }
}
