import Alerts
import AuditConfig
import Foundation

extension AuditEnvironment {
    /// The configured alert delivery; throws when `[alerts]` is missing.
    public func alertDelivery(environment: [String: String] = ProcessInfo.processInfo.environment) throws(AlertError) -> AlertDelivery {
        guard let alerts = config.alerts else { throw .notConfigured }
        return AlertDelivery(config: alerts, timezone: reportTimeZone, environment: environment, logger: logger)
    }
}
