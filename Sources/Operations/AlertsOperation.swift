import Alerts
import Foundation

/// `kraken-audit alerts [--test]`: delivers pending alerts through the `[alerts]` hook (exit 75 when a delivery
/// failed and will be retried), or sends a sample alert (exit 69 when the hook did not accept it).
public struct AlertsOperation: AuditOperation {
    public static let label = "alerts"
    /// `--test`: send a sample alert, store nothing.
    public var test: Bool

    /// Delivers pending alerts, or with `test` sends a sample one.
    public init(test: Bool = false) { self.test = test }

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        let delivery = try environment.alertDelivery()
        if test {
            let result = try delivery.sendTest()
            var lines = ["test alert: \(result.summary)"]
            if !result.outputTail.isEmpty { lines.append(result.outputTail) }
            return CommandResult(lines: lines, status: result.succeeded ? .success : .unavailable)
        }
        try environment.requireCurrentSchema()
        let db = try environment.connect()
        defer { db.close() }
        let s = try delivery.deliverPending(on: db)
        if s.skippedLocked { return CommandResult(lines: ["another alert delivery is running; nothing done"]) }
        return CommandResult(
            lines: ["alerts: \(s.calls) hook call(s), \(s.delivered) delivered, \(s.failed) failed, \(s.pending) pending"],
            status: s.failed > 0 ? .tempFail : .success)
    }
}
