import AuditStore
import Foundation
import TestSupport
import Testing

@Suite struct NonceStoreTests {
    let database: TestDatabase
    let fingerprint = "sha256:0123456789abcdef"
    init() throws {
        database = try TestDatabase("nonce")
        let db = try database.migrated()
        try NonceStore.register(on: db, account: "main", keyName: "main", fingerprint: fingerprint)
        db.close()
    }

    @Test func concurrentTakersNeverCollide() async throws {
        let url = database.url
        let fp = fingerprint
        let now = NonceStore.nowMillis()
        // 6 connections (as if 6 processes) take 50 nonces each, all with the same clock reading.
        let all = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<6 {
                group.addTask {
                    let db = try PGConnection(url: url, logger: TestDatabase.logger)
                    defer { db.close() }
                    return try await db.run { db in
                        var taken: [UInt64] = []
                        for _ in 0..<50 { taken.append(try NonceStore.next(on: db, fingerprint: fp, nowMillis: now)) }
                        return taken
                    }
                }
            }
            return try await group.reduce(into: [[UInt64]]()) { $0.append($1) }
        }
        let flat = all.flatMap { $0 }
        #expect(Set(flat).count == 300)
        for seq in all { #expect(seq == seq.sorted() && Set(seq).count == seq.count) }
        #expect(flat.min()! >= UInt64(now))
    }

    @Test func clockMovedBackStillIncreases() throws {
        let db = try database.connect()
        let t = NonceStore.nowMillis()
        let a = try NonceStore.next(on: db, fingerprint: fingerprint, nowMillis: t)
        let b = try NonceStore.next(on: db, fingerprint: fingerprint, nowMillis: t - 3_600_000)  // clock stepped back 1 h
        let c = try NonceStore.next(on: db, fingerprint: fingerprint, nowMillis: t - 3_600_000)
        #expect(a == UInt64(t))
        #expect(b == a + 1)
        #expect(c == b + 1)
        // When the clock moves forward again, nonces follow it.
        let d = try NonceStore.next(on: db, fingerprint: fingerprint, nowMillis: t + 10_000)
        #expect(d == UInt64(t + 10_000))
    }

    @Test func survivesRestart() throws {
        let t = NonceStore.nowMillis() + 50_000
        let first = try database.connect()
        let a = try NonceStore.next(on: first, fingerprint: fingerprint, nowMillis: t)
        first.close()
        let second = try database.connect()  // a new process
        let b = try NonceStore.next(on: second, fingerprint: fingerprint, nowMillis: t - 1000)
        #expect(b > a)
    }

    @Test func unknownKeyIsAnError() throws {
        let db = try database.connect()
        let error = #expect(throws: PGError.self) { try NonceStore.next(on: db, fingerprint: "sha256:ffffffffffffffff", nowMillis: 1) }
        #expect(error?.message.contains("not registered") == true)
    }

    @Test func aKeyBelongsToOneAccount() throws {
        let db = try database.connect()
        #expect(throws: PGError.self) {
            try NonceStore.register(on: db, account: "other", keyName: "other", fingerprint: fingerprint)
        }
        // Registering again for the same account is idempotent.
        let id1 = try NonceStore.register(on: db, account: "main", keyName: "main", fingerprint: fingerprint)
        let id2 = try NonceStore.register(on: db, account: "main", keyName: "main", fingerprint: fingerprint)
        #expect(id1 == id2)
    }

    @Test func raiseOnlyMovesForward() throws {
        let db = try database.connect()
        let big = UInt64(NonceStore.nowMillis() + 10_000_000)
        try NonceStore.raise(on: db, fingerprint: fingerprint, to: big)
        try NonceStore.raise(on: db, fingerprint: fingerprint, to: 5)
        #expect(try NonceStore.next(on: db, fingerprint: fingerprint, nowMillis: 1) == big + 1)
    }
}

@Suite struct AccountStoreTests {
    /// Many sessions creating the same account at once all get its id (a snapshot race made some get nothing).
    @Test func concurrentEnsureReturnsTheSameId() async throws {
        let database = try TestDatabase("accounts")
        _ = try database.migrated()
        let url = database.url
        for round in 0..<5 {
            let ids = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let db = try PGConnection(url: url, logger: TestDatabase.logger)
                        defer { db.close() }
                        return try await db.run { try AccountStore.ensure(on: $0, name: "race-\(round)") }
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(Set(ids).count == 1 && ids.count == 8)
        }
    }
}
