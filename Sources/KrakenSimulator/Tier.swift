import Foundation

/// Kraken verification tiers and their private-API counter limits (../shared/kraken-api.md §5.1).
public enum Tier: String, Sendable, CaseIterable {
    case starter, intermediate, pro

    /// Maximum counter value.
    public var maxCounter: Double {
        switch self {
        case .starter: 15
        case .intermediate, .pro: 20
        }
    }

    /// Counter decay per second.
    public var decayPerSecond: Double {
        switch self {
        case .starter: 0.33
        case .intermediate: 0.5
        case .pro: 1
        }
    }
}
