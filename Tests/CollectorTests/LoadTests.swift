import AuditStore
import Collector
import Foundation
import KrakenSimulator
import TestSupport
import Testing

/// Load: 20 accounts collected concurrently against the simulator with binding counters. The run completes,
/// each key stays under its counter, and memory stays bounded (peak RSS is printed).
@Suite struct LoadTests {
    @Test func twentyAccountsConcurrently() async throws {
        try await Harness.with(accounts: 20, scale: 300, days: 30, max: 15, decay: 30) { h in
            let started = Date()
            let outcomes = await h.collect()
            let elapsed = Date().timeIntervalSince(started)
            #expect(outcomes.count == 20)
            #expect(
                outcomes.filter { !$0.succeeded }.isEmpty,
                "\(outcomes.filter { !$0.succeeded }.map { "\($0.account): \(String(describing: $0.error))" })")
            for a in h.sim.accounts {
                let c = try await h.sim.state.counter(account: a.name)
                #expect(c.rateLimited == 0, "\(a.name)")
                #expect(c.maxCounterEver <= 15, "\(a.name): \(c.maxCounterEver)")
            }
            for a in h.sim.accounts.prefix(3) { try await h.expectStoredEqualsTruth(a.name) }
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            print(
                String(
                    format: "load: 20 accounts in %.1f s, peak RSS of the test process (collector + in-process simulator) %.0f MiB",
                    elapsed, Double(usage.ru_maxrss) / 1024))
        }
    }
}
