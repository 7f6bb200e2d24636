import AuditStore
import Foundation
import Logging
import TestSupport
import Testing

/// The per-process connection pool (issue 18).
@Suite struct PGPoolTests {
    let database: TestDatabase
    init() throws { database = try TestDatabase("pgpool") }

    var logger: Logger { Logger(label: "pool-test") }

    /// Fifty tasks through a pool of three: every one runs, never more than three connections exist, and each
    /// new connection ran `prepare` once.
    @Test func manyTasksShareABoundedSetOfConnections() async throws {
        let prepared = Counter()
        let pool = PGPool(url: database.url, size: 3, logger: logger, prepare: { _ in prepared.increment() })
        defer { pool.close() }
        let pids = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    try await pool.run { db in
                        try db.query("SELECT pg_backend_pid() FROM pg_sleep(0.005)").rows[0].decode(0, as: Int.self)
                    }
                }
            }
            var all: [Int] = []
            for try await pid in group { all.append(pid) }
            return all
        }
        #expect(pids.count == 50)
        #expect(Set(pids).count <= 3)
        #expect(pool.peakConnections <= 3)
        #expect(prepared.value == Set(pids).count)
    }

    /// A connection whose session ended under it is not handed out again: the next borrower gets a fresh one. A
    /// connection left inside a transaction is not either (its next user would write into someone else's).
    @Test func brokenAndDirtyConnectionsAreReplaced() async throws {
        let pool = PGPool(url: database.url, size: 1, logger: logger)
        defer { pool.close() }
        let first = try await pool.run { db in try db.query("SELECT pg_backend_pid()").rows[0].decode(0, as: Int.self) }
        let killer = try database.connect()
        defer { killer.close() }
        _ = try killer.query("SELECT pg_terminate_backend($1)", [first])
        var lost: (any Error)? = nil
        let deadline = Date().addingTimeInterval(10)
        while lost == nil, Date() < deadline {  // the backend ends a moment after the signal
            do { _ = try await pool.run { db in try db.query("SELECT 1") } } catch { lost = error }
            if lost == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(lost != nil, "the terminated session failed its next statement")
        let second = try await pool.run { db in try db.query("SELECT pg_backend_pid()").rows[0].decode(0, as: Int.self) }
        #expect(second != first)
        // Left inside a transaction: replaced too.
        _ = try await pool.run { db in try db.executeScript("BEGIN") }
        let third = try await pool.run { db in try db.query("SELECT pg_backend_pid()").rows[0].decode(0, as: Int.self) }
        #expect(third != second)
        var closed = false
        let until = Date().addingTimeInterval(10)
        while !closed, Date() < until {  // the dirty session was closed, not left idle in its transaction
            closed = try killer.query("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", [second]).rows[0].decode(0, as: Int.self) == 0
            if !closed { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(closed)
    }

    /// A task cancelled while it waits for a connection stops waiting; the pool goes on serving the others.
    @Test func aCancelledWaiterLeavesThePoolWorking() async throws {
        let pool = PGPool(url: database.url, size: 1, logger: logger)
        defer { pool.close() }
        let holder = Task { try await pool.run { db in try db.query("SELECT pg_sleep(0.5)") } }
        try await Task.sleep(for: .milliseconds(100))
        let waiter = Task { try await pool.run { db in try db.query("SELECT 1").rows.count } }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiter.value }
        _ = try await holder.value
        #expect(try await pool.run { db in try db.query("SELECT 2").rows.count } == 1)
    }

    /// `runWithSpare` hands a second, distinct connection only when one is free at once: never with a pool of one,
    /// never while the others are busy (it does not wait), and both go back for the next borrowers. The two work at
    /// once: the spare's backend is seen active from the first while the first waits for it.
    @Test func aSpareIsHandedOnlyWhenFreeAndNeverWaitedFor() async throws {
        let single = PGPool(url: database.url, size: 1, logger: logger)
        defer { single.close() }
        #expect(try await single.runWithSpare { _, spare in spare == nil })

        let pool = PGPool(url: database.url, size: 2, logger: logger)
        defer { pool.close() }
        let seen = try await pool.runWithSpare { db, spare -> Bool in
            guard let spare else { return false }
            let pid = try spare.query("SELECT pg_backend_pid()").rows[0].decode(0, as: Int.self)
            let work = AlongsideWork(on: spare) { c in try c.query("SELECT pg_sleep(0.3)").rows.count }
            defer { _ = work.wait() }
            try db.query("SELECT pg_sleep(0.1)")
            return try db.query("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid]).rows[0]
                .decode(0, as: Int.self) == 1
        }
        #expect(seen, "the spare's statement runs while the first connection works")
        #expect(pool.peakConnections == 2)

        // Waiting would end with the holder's connection as the spare (it is busy for 2 s): nil means no wait.
        let started = Counter()
        let holder = Task {
            try await pool.run { db in
                started.increment()
                try db.query("SELECT pg_sleep(2)")
            }
        }
        while started.value == 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(try await pool.runWithSpare { _, spare in spare == nil }, "the only other connection is busy")
        _ = try await holder.value
        #expect(try await pool.runWithSpare { db, spare in try db.isReusable && spare?.query("SELECT 1").rows.count == 1 })
    }
}

/// A thread-safe counter for `prepare` blocks.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
