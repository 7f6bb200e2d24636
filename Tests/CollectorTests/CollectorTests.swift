import AuditConfig
import AuditKernel
import AuditStore
import Collector
import Foundation
import KrakenAPI
import KrakenSimulator
import TestSupport
import Testing

@Suite struct CollectorTests {
    @Test func firstRunStoresExactlyTheSimulatorsHistory() async throws {
        try await Harness.with(accounts: 2) { h in
            let outcomes = await h.collect()
            #expect(outcomes.map(\.succeeded) == [true, true], "\(outcomes.map { $0.error.map(String.init(describing:)) ?? "ok" })")
            for a in h.sim.accounts { try await h.expectStoredEqualsTruth(a.name) }
            // Every call is in the call log, with no secret.
            let calls = try h.count("SELECT count(*) FROM audit.api_calls")
            let served = await h.sim.state.requestLog(limit: 100_000).filter { $0.path.hasPrefix("/0/private/") }.count
            #expect(calls == served)
            let secret = h.sim.accounts[0].secret
            #expect(try h.count("SELECT count(*) FROM audit.api_calls WHERE params::text LIKE $1", ["%\(secret.prefix(12))%"]) == 0)
            // A run row per account, successful, with stats.
            #expect(try h.count("SELECT count(*) FROM audit.collector_runs WHERE status = 'success' AND stats ? 'Ledgers'") == 2)
            // Balance snapshot equals Kraken's Balance.
            let truthBalance = try await h.sim.state.export(account: "acct1").balance
            for (asset, value) in truthBalance.objectMembers ?? [] {
                let stored = try h.db.query(
                    "SELECT balance::text FROM audit.balances b JOIN audit.accounts a ON a.id = b.account_id WHERE a.name = 'acct1' AND asset = $1",
                    [asset]
                ).rows.first?.decode(0, as: String.self)
                #expect(
                    stored.flatMap(ExactDecimal.init)?.isNumericallyEqual(to: ExactDecimal(value.stringValue ?? "x") ?? ExactDecimal("-1")!)
                        == true, "\(asset)")
            }
        }
    }

    @Test func rerunAddsNothingAndIncrementIsCheap() async throws {
        try await Harness.with { h in
            _ = await h.collect()
            let before = try h.count("SELECT count(*) FROM audit.ledger_entries")
            let again = await h.collect()
            #expect(again.first?.succeeded == true)
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entries") == before)
            #expect(again.first?.endpoints["Ledgers"]?.rows.inserted == 0)
            // New activity: 60 trades = 120 ledger entries; the increment costs ceil(N/50) + a small constant calls.
            _ = try await h.sim.state.addActivity(account: "acct1", trades: 60)
            await h.advanceClock(60)
            let inc = await h.collect()
            let ledgerCalls = try #require(inc.first?.endpoints["Ledgers"]?.calls)
            #expect(ledgerCalls <= Int((120.0 / 50).rounded(.up)) + 2, "Ledgers calls \(ledgerCalls)")
            #expect(inc.first?.endpoints["Ledgers"]?.rows.inserted == 120)
            try await h.expectStoredEqualsTruth("acct1")
        }
    }

    @Test func liveInsertsWhilePagingLoseAndDuplicateNothing() async throws {
        try await Harness.with(
            scale: 1500,
            configure: { o in
                o.faults = [FaultRule(kind: .liveInserts, rate: 0.5)]
            }
        ) { h in
            let first = await h.collect()
            #expect(first.first?.succeeded == true, "\(String(describing: first.first?.error))")
            // Rows that arrived after the window's end are collected by the next run.
            await h.sim.state.clearFaults()
            await h.advanceClock(60)
            _ = await h.collect()
            try await h.expectStoredEqualsTruth("acct1")
        }
    }

    @Test func transientFaultsAreRetriedWithFreshNonces() async throws {
        try await Harness.with(
            scale: 600,
            configure: { o in
                o.faults = [
                    FaultRule(kind: .http500, rate: 0.08), FaultRule(kind: .http520, rate: 0.08), FaultRule(kind: .http502, rate: 0.05),
                    FaultRule(kind: .serviceUnavailable, rate: 0.08), FaultRule(kind: .serviceBusy, rate: 0.05),
                    FaultRule(kind: .connectionReset, rate: 0.05), FaultRule(kind: .truncatedJSON, rate: 0.03),
                ]
                o.faultSeed = 42
            }
        ) { h in
            var options = CollectOptions(retry: RetryPolicy(maxAttempts: 10, baseDelay: 0.01, maxDelay: 0.05))
            options.overlapSeconds = 600
            let outcome = await h.collect(options: options)
            #expect(outcome.first?.succeeded == true, "\(String(describing: outcome.first?.error))")
            try await h.expectStoredEqualsTruth("acct1")
            #expect(try h.count("SELECT count(*) FROM audit.api_calls WHERE error_kind IS NOT NULL") > 0)
            #expect(try h.count("SELECT count(*) FROM audit.api_calls WHERE retry > 0") > 0)
            // Every attempt used a fresh nonce: the simulator never saw one twice.
            #expect(try h.count("SELECT count(*) - count(DISTINCT nonce) FROM audit.api_calls WHERE nonce IS NOT NULL") == 0)
            #expect(try h.count("SELECT count(*) FROM audit.api_calls WHERE 'EAPI:Invalid nonce' = ANY(errors)") == 0)
        }
    }

    @Test func counterNeverExceedsItsMax() async throws {
        // A binding counter: max 10, decay 40/s, so the run must wait on it.
        try await Harness.with(scale: 800, max: 10, decay: 40) { h in
            let outcome = await h.collect()
            #expect(outcome.first?.succeeded == true, "\(String(describing: outcome.first?.error))")
            let counter = try await h.sim.state.counter(account: "acct1")
            #expect(counter.rateLimited == 0)
            #expect(counter.maxCounterEver <= 10)
            try await h.expectStoredEqualsTruth("acct1")
        }
    }

    @Test func permanentErrorStopsOneAccountOthersGoOn() async throws {
        try await Harness.with(accounts: 2) { h in
            try await h.sim.state.setPermissions(account: "acct2", ["query-funds"])  // no ledger permission
            let outcomes = await h.collect()
            #expect(outcomes[0].succeeded)
            let failure = try #require(outcomes[1].error)
            #expect(failure.description.contains("EGeneral:Permission denied"))
            #expect(!failure.isTemporary)
            #expect(
                try h.count(
                    "SELECT count(*) FROM audit.collector_runs r JOIN audit.accounts a ON a.id = r.account_id WHERE a.name = 'acct2' AND r.status = 'failed' AND r.error LIKE '%Permission denied%'"
                ) == 1)
            // It stopped at once rather than hammering the key (besides the first run's GetApiKeyInfo, which picks
            // the backfill mode).
            #expect(
                try h.count(
                    "SELECT count(*) FROM audit.api_calls c JOIN audit.accounts a ON a.id = c.account_id WHERE a.name = 'acct2' AND c.endpoint <> 'GetApiKeyInfo'"
                ) == 1)
            try await h.expectStoredEqualsTruth("acct1")
        }
    }

    @Test func lockoutStopsTheKeyAsTemporary() async throws {
        try await Harness.with { h in
            try await h.sim.state.inject(account: "acct1", error: "EGeneral:Temporary lockout", count: 1)
            let outcome = try #require(await h.collect().first)
            guard case .lockedOut = outcome.error else {
                Issue.record("expected lockedOut, got \(String(describing: outcome.error))")
                return
            }
            #expect(outcome.error?.isTemporary == true)
            // A second run does not touch Kraken while the lockout lasts.
            let callsBefore = try h.count("SELECT count(*) FROM audit.api_calls")
            let again = try #require(await h.collect().first)
            guard case .lockedOut = again.error else {
                Issue.record("expected lockedOut, got \(String(describing: again.error))")
                return
            }
            #expect(try h.count("SELECT count(*) FROM audit.api_calls") == callsBefore)
        }
    }

    @Test func invalidNonceIsRetriedOnceThenReported() async throws {
        try await Harness.with { h in
            try await h.sim.state.inject(account: "acct1", error: "EAPI:Invalid nonce", count: 1)
            #expect(await h.collect().first?.succeeded == true)
            try await h.sim.state.inject(account: "acct1", error: "EAPI:Invalid nonce", count: 2)
            let outcome = try #require(await h.collect().first)
            #expect(outcome.error?.description.contains("EAPI:Invalid nonce") == true)
        }
    }

    /// Issue 18: the key's call lease (audit.take_call / end_call) replaced the session lock held across the HTTP
    /// call. Two paced clients of two "processes" (own sessions, own holders) on one key, sharing one small pool,
    /// call concurrently: Kraken never sees a nonce lower than one it saw (no EAPI:Invalid nonce), and every call
    /// is logged with its own nonce.
    @Test func twoPacedClientsOnOneKeyNeverCollideOnNonces() async throws {
        try await Harness.with(scale: 100, decay: 2000) { h in
            let a = h.sim.accounts[0]
            let creds = KrakenCredentials(apiKey: a.apiKey, secret: Secret(a.secret))
            try NonceStore.register(on: h.db, account: a.name, keyName: a.name, fingerprint: creds.fingerprint)
            let accountId = try AccountStore.ensure(on: h.db, name: a.name)
            let pool = PGPool(url: h.database.url, size: 2, logger: h.logger)
            defer { pool.close() }
            let sessions = try (0..<2).map { _ in try ProcessSession(url: h.database.url, logger: h.logger) }
            defer { sessions.forEach { $0.close() } }
            let clients = try sessions.map { session in
                try PacedClient(
                    account: a.name, accountId: accountId, credentials: creds, apiURL: h.sim.baseURL.absoluteString,
                    limit: RateLimit(max: 20, decayPerSecond: 2000), db: pool, holder: session.holder, runId: nil,
                    transport: URLSessionTransport(), timeout: 30, retry: SimulatedCollection.fastRetry, logger: h.logger)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in clients {
                    group.addTask {
                        for _ in 0..<25 { _ = try await client.call("Balance") }
                    }
                }
                try await group.waitForAll()
            }
            let nonceErrors = await h.sim.state.requestLog(limit: 100_000).filter { $0.errors.contains("EAPI:Invalid nonce") }.count
            #expect(nonceErrors == 0)
            #expect(try h.count("SELECT count(DISTINCT nonce) FROM audit.api_calls WHERE endpoint = 'Balance'") == 50)
            #expect(try h.count("SELECT count(*) FROM audit.api_keys WHERE call_token IS NOT NULL") == 0, "every lease returned")
        }
    }

    /// A call lease whose process died (its session ended) is taken over at once, not after the lease lapses; one
    /// whose process is alive but stalled is taken over when it lapses; a live one makes the other caller wait.
    @Test func callLeaseOfADeadProcessIsTakenOverAtOnce() async throws {
        try await Harness.with(scale: 20) { h in
            let fingerprint = "sha256:0123456789abcdef"
            _ = try NonceStore.register(on: h.db, account: "leases", keyName: "leases", fingerprint: fingerprint)
            func take(_ holder: Int64, _ token: String, lease: Double) throws -> Int64? {
                try h.db.query(
                    "SELECT nonce FROM audit.take_call($1, 1, 1000, 1, $2, $3, $4::uuid, $5)",
                    [fingerprint, NonceStore.nowMillis(), holder, token, lease]
                ).rows[0].decodeOptional(0, as: Int64.self)
            }
            let (t1, t2, t3) = (UUID().uuidString, UUID().uuidString, UUID().uuidString)
            let first = try ProcessSession(url: h.database.url, logger: h.logger)
            let second = try ProcessSession(url: h.database.url, logger: h.logger)
            defer { second.close() }
            #expect(try take(first.holder, t1, lease: 600) != nil)
            #expect(try take(second.holder, t2, lease: 600) == nil, "a live holder's call is in flight: wait")
            first.close()
            var granted = false
            let deadline = Date().addingTimeInterval(10)  // the server ends the session a moment after the close
            while !granted, Date() < deadline {
                granted = try take(second.holder, t2, lease: 0.3) != nil
                if !granted { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(granted, "the dead holder's 600 s lease was taken over")
            // Now `second` (alive) holds a 0.3 s lease and never returns it: it lapses.
            let third = try ProcessSession(url: h.database.url, logger: h.logger)
            defer { third.close() }
            var lapsed = false
            let until = Date().addingTimeInterval(10)
            while !lapsed, Date() < until {
                lapsed = try take(third.holder, t3, lease: 60) != nil
                if !lapsed { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(lapsed)
            #expect(
                try h.db.query("SELECT audit.end_call($1, $2::uuid, true)", [fingerprint, t2]).rows[0].decode(0, as: Bool.self) == false)
            #expect(try h.db.query("SELECT audit.end_call($1, $2::uuid, true)", [fingerprint, t3]).rows[0].decode(0, as: Bool.self))
        }
    }

    /// Issue 18: no two processes ever collect one account at once. While another process holds the account's
    /// lease, `collect` does nothing for it and says so (accountBusy, exit 75); once released, it collects.
    @Test func anAccountAnotherProcessCollectsIsLeftAlone() async throws {
        try await Harness.with(scale: 300) { h in
            let other = try ProcessSession(url: h.database.url, logger: h.logger)
            let accountId = try AccountStore.ensure(on: h.db, name: "acct1")
            #expect(try await other.tryLeaseAccount(accountId))
            let busy = await h.collect()
            guard case .accountBusy(let name)? = busy.first?.error else {
                Issue.record("expected accountBusy, got \(String(describing: busy.first?.error))")
                return
            }
            #expect(name == "acct1")
            #expect(try h.count("SELECT count(*) FROM audit.api_calls") == 0, "nothing was called for it")
            other.close()
            var outcome = await h.collect()
            let deadline = Date().addingTimeInterval(10)  // the server ends the session a moment after the close
            while outcome.first?.succeeded != true, Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
                outcome = await h.collect()
            }
            #expect(outcome.first?.succeeded == true, "\(String(describing: outcome.first?.error))")
            try await h.expectStoredEqualsTruth("acct1")
            let chains = try ChainVerifier(db: h.db).verify()
            #expect(chains.problems.isEmpty, "\(chains.problems.map(\.detail))")
        }
    }
}
