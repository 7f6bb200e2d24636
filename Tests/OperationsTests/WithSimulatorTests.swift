import Foundation
import KrakenSimulator
import Logging
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// TestSupport's `withSimulator` (NightlyRunTests' scope): the simulator is stopped, awaited, when the closure
/// ends, also when it throws.
@Suite struct WithSimulatorTests {
    struct Boom: Error {}

    @Test func simulatorIsStoppedWhenTheBodyThrows() async throws {
        var o = SimulatorOptions()
        o.endSeconds = 1_793_491_200
        o.days = 5
        o.scale = 50
        o.accounts = 1
        o.injections = []
        var logger = Logger(label: "with-simulator-test")
        logger.logLevel = .warning
        var url: URL?
        do {
            try await withSimulator(o, logger: logger) { sim in
                url = sim.baseURL
                throw Boom()
            }
            Issue.record("the body's error was not rethrown")
        } catch is Boom {}
        // Stopped before withSimulator returned: nothing listens at its address any more.
        var request = URLRequest(url: try #require(url).appendingPathComponent("0/public/Time"))
        request.timeoutInterval = 20
        await #expect(throws: (any Error).self) { _ = try await URLSession.shared.data(for: request) }
    }
}
