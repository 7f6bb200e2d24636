import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The harness itself: its teardown is awaited when the test's closure ends, also when it throws.
@Suite struct SimulatedCollectionTests {
    struct Boom: Error {}

    @Test func simulatorIsStoppedWhenTheBodyThrows() async throws {
        var url: URL?
        do {
            try await withSimulatedCollection { h in
                url = h.sim.baseURL
                #expect(await h.collect().first?.succeeded == true)
                throw Boom()
            }
            Issue.record("the body's error was not rethrown")
        } catch is Boom {}
        // Stopped before withSimulatedCollection returned: nothing listens at its address any more.
        var request = URLRequest(url: try #require(url).appendingPathComponent("0/public/Time"))
        request.timeoutInterval = 20
        await #expect(throws: (any Error).self) { _ = try await URLSession.shared.data(for: request) }
    }
}
