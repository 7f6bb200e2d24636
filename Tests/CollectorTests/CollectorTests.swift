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

    @Test func twoConcurrentCollectorsOnOneKeyNeverCollideOnNonces() async throws {
        try await Harness.with(scale: 600) { h in
            async let a = h.collect()
            async let b = h.collect()
            let (ra, rb) = await (a, b)
            #expect(
                ra.first?.succeeded == true && rb.first?.succeeded == true,
                "\(String(describing: ra.first?.error)) \(String(describing: rb.first?.error))")
            let nonceErrors = await h.sim.state.requestLog(limit: 100_000).filter { $0.errors.contains("EAPI:Invalid nonce") }.count
            #expect(nonceErrors == 0)
            try await h.expectStoredEqualsTruth("acct1")
            // Two writers of the same chains never forked one (issue 17: appends are serialised per chain).
            let chains = try ChainVerifier(db: h.db).verify()
            #expect(chains.problems.isEmpty, "\(chains.problems.map(\.detail))")
            #expect(chains.rowsChecked > 0)
        }
    }
}
