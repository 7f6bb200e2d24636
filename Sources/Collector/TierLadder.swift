import AuditConfig
import Foundation

/// Kraken's tiers from fastest to slowest, as the steps a key's assumed counter goes down when Kraken answers
/// `EAPI:Rate limit exceeded` despite pacing (../shared/kraken-api.md §5.1: pro 20 / 1 per s, intermediate
/// 20 / 0.5 per s, starter 15 / 0.33 per s; the tier cannot be read from the API).
public enum TierLadder {
    /// The next slower limit below `limit`: the first tier (pro, intermediate, starter) that lowers its max or
    /// its decay, taken component-wise with `limit` so a custom `rate_limit` is never raised in either; nil
    /// when `limit` is already at or below Starter's (Kraken has no slower tier).
    public static func next(below limit: RateLimit) -> RateLimit? {
        for tier in [Tier.pro, .intermediate, .starter] {
            let t = tier.rateLimit
            let lowered = RateLimit(max: min(limit.max, t.max), decayPerSecond: min(limit.decayPerSecond, t.decayPerSecond))
            if lowered != limit { return lowered }
        }
        return nil
    }

    /// The tier whose limit `limit` is, if any.
    public static func tier(of limit: RateLimit) -> Tier? {
        Tier.allCases.first { $0.rateLimit == limit }
    }

    /// How a learned limit is named: "tier starter", or "max 10, decay 0.33/s" between tiers.
    public static func label(_ limit: RateLimit) -> String {
        if let t = tier(of: limit) { return "tier \(t.rawValue)" }
        return "max \(number(limit.max)), decay \(number(limit.decayPerSecond))/s"
    }

    /// How the config names an account's limit: its tier ("pro"), or its explicit `rate_limit`.
    public static func configLabel(_ account: AccountConfig) -> String {
        if account.rateLimit == account.tier.rateLimit { return account.tier.rawValue }
        return "rate_limit max \(number(account.rateLimit.max)), decay \(number(account.rateLimit.decayPerSecond))/s"
    }

    /// A limit's number as the config would spell it (15, 0.33).
    public static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x)
    }
}
