import Foundation
import KrakenSimulator
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `TestSim.with`: the simulator is stopped, awaited, when the closure ends, also when it throws.
@Suite struct TestSimScopeTests {
    struct Boom: Error {}

    @Test func simulatorIsStoppedWhenTheBodyThrows() async throws {
        var url: URL?
        do {
            try await TestSim.with { sim in
                url = sim.baseURL
                throw Boom()
            }
            Issue.record("the body's error was not rethrown")
        } catch is Boom {}
        // Stopped before TestSim.with returned: nothing listens at its address any more.
        var request = URLRequest(url: try #require(url).appendingPathComponent("0/public/Time"))
        request.timeoutInterval = 20
        await #expect(throws: (any Error).self) { _ = try await URLSession.shared.data(for: request) }
    }
}
