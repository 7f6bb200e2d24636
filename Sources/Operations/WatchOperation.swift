import Alerts
import Analyser
import Foundation
import Watch

/// `kraken-audit watch` (issue 20): the real-time stream service (``Watcher``) until SIGTERM/SIGINT, which end it
/// cleanly with exit 0 (a service's normal stop: systemd's `stop`); connections are closed and recorded.
public struct WatchOperation: AuditOperation {
    public static let label = "watch"
    /// `--account`; empty: every configured account.
    public var accounts: [String] = []

    public init() {}

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        try environment.checkAccounts(accounts)
        try environment.requireCurrentSchema()
        let catalogue = try RuleCatalogue.locate(sqlDirectory: environment.sqlDirectory)
        // Without [alerts], findings are still stored (and shown by `findings`); nothing is sent.
        let delivery: AlertDelivery? = environment.config.alerts == nil ? nil : try environment.alertDelivery()
        let env = environment
        let watcher = Watcher(
            config: environment.config, credentials: { account in try env.credentials(for: account) }, catalogue: catalogue,
            delivery: delivery, logger: environment.logger)
        let accounts = self.accounts
        let cancellation = PendingCancellation()
        let stop = SignalStop { cancellation.cancel() }
        defer { stop.cancel() }
        let task = Task { try await watcher.run(accounts: accounts) }
        cancellation.attach { task.cancel() }
        try await task.value
        return CommandResult(status: .success)
    }
}
