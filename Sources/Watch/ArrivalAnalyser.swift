/// Gathers one account's arrivals (new streamed or gap-filled rows) and runs the analysis for them: at once with a
/// grouping window of 0, else once per window (`[watch] group_seconds`), so the alert hook is called once for
/// everything that arrived in it. Arrivals during an analysis start another one after it.
actor ArrivalAnalyser {
    private let groupSeconds: Double
    private let work: @Sendable (_ withdrawal: Bool) async -> Void
    private var running: Task<Void, Never>? = nil
    private var pending = false
    private var withdrawal = false

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
            let w = withdrawal
            withdrawal = false
            await work(w)
        } while pending && !Task.isCancelled
        running = nil
    }

    /// Cancels a waiting window and waits for an analysis in progress.
    func stop() async {
        let task = running
        task?.cancel()
        await task?.value
    }
}
