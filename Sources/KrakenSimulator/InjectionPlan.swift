import Foundation

/// A run-time error injection (the "second client on the same key" and "permission-denied burst" anomalies):
/// after `afterCalls` successful private calls of `account`, its next `count` calls get `error`.
public struct InjectionPlan: Sendable, Equatable {
    public var account: String
    public var error: String
    public var afterCalls: Int
    public var count: Int

    public init(account: String, error: String, afterCalls: Int, count: Int) {
        self.account = account
        self.error = error
        self.afterCalls = afterCalls
        self.count = count
    }

    var rule: AnalyserRule { error.hasPrefix("EAPI:Invalid nonce") ? .nonceErrors : .apiErrorBurst }
    var kind: String { error.hasPrefix("EAPI:Invalid nonce") ? "nonce_errors_second_client" : "permission_denied_burst" }
}
