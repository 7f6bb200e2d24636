/// Gathers one account's arrivals (new streamed or gap-filled rows) and runs the analysis for them: at once with a
/// grouping window of 0, else once per window (`[watch] group_seconds`), so the alert hook is called once for
/// everything that arrived in it. Arrivals during an analysis start another one after it.
///
/// A streamed withdrawal is stored under ``holding(upTo:_:)``: an analysis already running (started by an earlier
/// arrival) would otherwise judge the new withdrawal before its destination is fetched (`WithdrawStatus`), and the
/// alert would go out without the address (measured: a third of the benchmark's withdrawals, which arrive right after
/// an address-book deposit).
actor ArrivalAnalyser {
    private let groupSeconds: Double
    private let work: @Sendable (_ withdrawal: Bool) async -> Void
    private var running: Task<Void, Never>? = nil
    private var pending = false
    private var withdrawal = false
    /// An analysis (`work`) is in progress.
    private var busy = false
    /// Stores in progress under ``holding(upTo:_:)``; no analysis starts while there are any.
    private var holds = 0

    init(groupSeconds: Double, work: @escaping @Sendable (Bool) async -> Void) {
        self.groupSeconds = groupSeconds
        self.work = work
    }

    /// Notes an arrival; `withdrawal`: a withdrawal was among the rows (its destination must be fetched first).
    func arrived(withdrawal w: Bool) {
        withdrawal = withdrawal || w
        if running == nil {
            running = Task { await self.loop() }
        } else {
            pending = true
        }
    }

    private func loop() async {
        repeat {
            pending = false
            if groupSeconds > 0 { try? await Task.sleep(for: .milliseconds(Int64(groupSeconds * 1000))) }
            // Bounded: a store holds for milliseconds; never let a stuck one stop the alerts.
            let deadline = ContinuousClock.now + .seconds(5)
            while holds > 0, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
            let w = withdrawal
            withdrawal = false
            busy = true
            await work(w)
            busy = false
        } while pending && !Task.isCancelled
        running = nil
    }

    /// Runs `body` (storing rows that include a withdrawal, then noting the arrival) once the analysis in progress,
    /// if any, has finished (waiting at most `seconds`), and starts no analysis until it returns.
    func holding<T: Sendable>(upTo seconds: Double, _ body: @Sendable () async throws -> T) async throws -> T {
        holds += 1
        defer { holds -= 1 }
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while busy, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        return try await body()
    }

    /// Cancels a waiting window and waits for an analysis in progress.
    func stop() async {
        let task = running
        task?.cancel()
        await task?.value
    }
}
