import KrakenSimulator
import Logging

/// Runs `body` with a started ``SimulatorServer`` and stops it afterwards, awaited, whether `body` returns or
/// throws: the scoped form for tests that need a simulator but not the database and configuration of
/// ``withSimulatedCollection(_:_:)`` (e.g. tests of the `kraken-audit` binary, which write their own configuration).
///
///     try await withSimulator(options, logger: logger) { sim in
///         let (code, _) = try await run(sim.baseURL, ["collect"])
///         #expect(code == 0)
///     }
public func withSimulator<T>(
    _ options: SimulatorOptions, logger: Logger, _ body: (SimulatorServer) async throws -> T
) async throws -> T {
    let sim = try await SimulatorServer.start(options, logger: logger)
    do {
        let result = try await body(sim)
        await sim.stop()
        return result
    } catch {
        await sim.stop()
        throw error
    }
}
