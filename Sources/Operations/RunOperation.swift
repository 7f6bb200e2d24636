/// `kraken-audit run`: the nightly job (``NightlyRun``), stopped cleanly by SIGINT/SIGTERM (exit 130/143: the
/// current transaction finishes and the run lock is released; a second signal exits at once).
public struct RunOperation: AuditOperation {
    public static let label = "run"
    /// What to run (accounts, report directory, metrics file, `--fail-on`).
    public var options: RunOptions

    /// The nightly job with `options`.
    public init(options: RunOptions) { self.options = options }

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        let job = NightlyRun(environment: environment)
        let options = self.options
        // Signals are caught before the job starts: one arriving in between still stops it cleanly.
        let cancellation = PendingCancellation()
        let stop = SignalStop { cancellation.cancel() }
        defer { stop.cancel() }
        let task = Task { try await job.run(options) }
        cancellation.attach { task.cancel() }
        do {
            let summary = try await task.value
            return CommandResult(
                output: summary.headline, status: stop.received.map(ExitStatus.forSignal) ?? summary.exitStatus)
        } catch {
            // Stopped by a signal: the exit status says so; the error is a consequence, not news.
            if let signal = stop.received { return CommandResult(status: .forSignal(signal)) }
            throw error
        }
    }
}
