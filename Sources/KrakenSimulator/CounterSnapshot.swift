import AuditKernel
import Foundation
import KrakenAPI

/// A key's rate-limit counter and nonce, as the control endpoint shows them.
public struct CounterSnapshot: Sendable, Equatable {
    public let account: String
    /// Current counter value (after decay up to now).
    public let counter: Double
    public let maxCounter: Double
    public let decayPerSecond: Double
    /// Highest counter value ever reached (a client that never got `EAPI:Rate limit exceeded` stays <= max).
    public let maxCounterEver: Double
    public let highestNonce: UInt64
    public let calls: Int
    public let successfulCalls: Int
    public let rateLimited: Int
    /// Seconds of lockout left (0 if not locked).
    public let lockoutRemaining: Double

    var json: JSONValue {
        .object([
            ("account", .string(account)), ("counter", .number(Self.num(counter))), ("max", .number(Self.num(maxCounter))),
            ("decay_per_second", .number(Self.num(decayPerSecond))), ("max_counter_ever", .number(Self.num(maxCounterEver))),
            ("nonce", .string(String(highestNonce))), ("calls", .number(String(calls))),
            ("successful_calls", .number(String(successfulCalls))), ("rate_limited", .number(String(rateLimited))),
            ("lockout_remaining_seconds", .number(Self.num(lockoutRemaining))),
        ])
    }

    static func num(_ v: Double) -> String { String(format: "%.4f", v) }
}
