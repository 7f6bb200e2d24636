import AuditConfig
import AuditStore
import Collector
import Foundation
import KrakenAPI
import TestSupport
import Testing

/// Issue 14, item 14: the steps a key's assumed counter goes down, what is kept of them, and a correctly
/// configured key that is never stepped down. The end-to-end run (pro configured, Starter key) is
/// OperationsTests' TierLearningTests.
@Suite struct TierStepDownTests {
    @Test func ladderGoesProIntermediateStarterThenStops() {
        let pro = AuditConfig.Tier.pro.rateLimit
        let intermediate = AuditConfig.Tier.intermediate.rateLimit
        let starter = AuditConfig.Tier.starter.rateLimit
        #expect(TierLadder.next(below: pro) == intermediate)
        #expect(TierLadder.next(below: intermediate) == starter)
        #expect(TierLadder.next(below: starter) == nil)
        #expect(TierLadder.label(starter) == "tier starter")
        // An explicit rate_limit steps down the same ladder, never raised in either component.
        #expect(TierLadder.next(below: RateLimit(max: 30, decayPerSecond: 2)) == pro)
        #expect(TierLadder.next(below: RateLimit(max: 20, decayPerSecond: 0.7)) == intermediate)
        #expect(TierLadder.next(below: RateLimit(max: 10, decayPerSecond: 0.5)) == RateLimit(max: 10, decayPerSecond: 0.33))
        #expect(TierLadder.next(below: RateLimit(max: 10, decayPerSecond: 0.33)) == nil)
        #expect(TierLadder.label(RateLimit(max: 10, decayPerSecond: 0.33)) == "max 10, decay 0.33/s")
    }

    @Test func configLabelNamesTierOrExplicitRateLimit() throws {
        func account(_ extra: String) throws -> AccountConfig {
            try ConfigLoader.parse(
                ConfigText.database("dbname=x")
                    + ConfigText.account(
                        name: "a", keyEnv: "K", secretEnv: "S", apiURL: "http://127.0.0.1:9", extra: [extra]),
                path: "t.toml"
            ).accounts[0]
        }
        #expect(TierLadder.configLabel(try account("tier = \"pro\"")) == "pro")
        #expect(TierLadder.configLabel(try account("rate_limit = { max = 30, decay_per_second = 2 }")) == "rate_limit max 30, decay 2/s")
    }

    /// What was learned applies only to the configuration it corrects and for 30 days; another process's
    /// lower value is never raised again.
    @Test func learnedLimitIsKeptPerConfigurationAndNeverRaised() throws {
        let database = try TestDatabase("learned")
        let db = try database.migrated()
        defer { db.close() }
        let fp = "sha256:00112233aabbccdd"
        try NonceStore.register(on: db, account: "a", keyName: "a", fingerprint: fp)
        #expect(try LearnedPacing.load(on: db, fingerprint: fp) == nil)
        func learned(_ max: Double, _ decay: Double, _ label: String) -> LearnedPacing {
            LearnedPacing(
                max: max, decayPerSecond: decay, label: label, learnedAt: Date(), reason: "EAPI:Rate limit exceeded on Ledgers",
                configMax: 20, configDecay: 1, configLabel: "pro")
        }
        try LearnedPacing.record(learned(15, 0.33, "tier starter"), on: db, fingerprint: fp)
        try LearnedPacing.record(learned(20, 0.5, "tier intermediate"), on: db, fingerprint: fp)  // a slower process
        let l = try #require(try LearnedPacing.load(on: db, fingerprint: fp))
        #expect(l.label == "tier starter" && l.max == 15 && l.decayPerSecond == 0.33)
        #expect(l.summary == "key behaves like tier starter, config says pro")
        #expect(l.applies(toConfiguredMax: 20, decay: 1))
        #expect(!l.applies(toConfiguredMax: 15, decay: 0.33), "config fixed to starter")
        #expect(!l.applies(toConfiguredMax: 20, decay: 0.5), "config changed to intermediate")
        #expect(!l.applies(toConfiguredMax: 20, decay: 1, now: l.learnedAt.addingTimeInterval(LearnedPacing.maxAge + 1)))
        try LearnedPacing.forget(on: db, fingerprint: fp)
        #expect(try LearnedPacing.load(on: db, fingerprint: fp) == nil)
    }

    /// A near miss: the counter runs up to its max again and again (max 10, decay 40/s), the config is right,
    /// Kraken never says "rate limit exceeded", and the key is never stepped down.
    @Test func correctlyConfiguredKeyAtItsLimitIsNeverSteppedDown() async throws {
        try await Harness.with(scale: 800, max: 10, decay: 40) { h in
            for _ in 0..<2 {
                let outcome = await h.collect(options: CollectOptions(full: true, retry: Harness.fastRetry))
                #expect(outcome.first?.succeeded == true, "\(String(describing: outcome.first?.error))")
            }
            let counter = try await h.sim.state.counter(account: "acct1")
            #expect(counter.rateLimited == 0)
            #expect(counter.maxCounterEver <= 10)
            // The counter was binding: far more calls than it holds, so every run waited on it. (How close to the max
            // it ran depends on the machine's load: the pacer keeps a jitter margin and forfeits each call's time in
            // flight; the rate-limit floor benchmark measures that, not this test.)
            #expect(try h.count("SELECT count(*) FROM audit.api_calls") > 20)
            #expect(try h.count("SELECT count(*) FROM audit.api_keys WHERE learned_max IS NOT NULL") == 0)
            try await h.expectStoredEqualsTruth("acct1")
        }
    }
}
