import Foundation

/// What the collector learned about an API key's real rate limit, kept with the key's counter state in
/// `audit.api_keys` (migration 0006): Kraken answered `EAPI:Rate limit exceeded` although the collector paced
/// by the configured counter, so the key behaves like a lower tier than the config says
/// (../shared/kraken-api.md §5.1: the tier cannot be read from the API).
///
/// The learned limit applies only while the configured limit is the one it corrects (``configMax``,
/// ``configDecay``) and for ``maxAge`` after ``learnedAt``; ``load(on:fingerprint:)`` returns it either way, and
/// ``applies(toConfiguredMax:decay:now:)`` says whether it is in force.
public struct LearnedPacing: Sendable, Equatable {
    /// Counter max and decay per second the key behaves like.
    public var max: Double
    public var decayPerSecond: Double
    /// How reports and `doctor` name the learned limit ("tier starter", or "max 10, decay 0.33/s").
    public var label: String
    public var learnedAt: Date
    /// The Kraken error and call that caused the last step down.
    public var reason: String
    /// The configured limit when learned, and how the config names it ("pro", "rate_limit max 30, decay 2/s").
    public var configMax: Double
    public var configDecay: Double
    public var configLabel: String

    /// After this long the learned limit is forgotten and the configured one tried again (an account may have
    /// been upgraded on Kraken since): at most a few rate-limit errors, then it is learned again.
    public static let maxAge: TimeInterval = 30 * 86_400

    public init(
        max: Double, decayPerSecond: Double, label: String, learnedAt: Date, reason: String, configMax: Double,
        configDecay: Double, configLabel: String
    ) {
        self.max = max
        self.decayPerSecond = decayPerSecond
        self.label = label
        self.learnedAt = learnedAt
        self.reason = reason
        self.configMax = configMax
        self.configDecay = configDecay
        self.configLabel = configLabel
    }

    /// Whether this correction is in force for a key configured with `max`/`decay` at `now`: the config is
    /// unchanged since it was learned and it is younger than ``maxAge``.
    public func applies(toConfiguredMax max: Double, decay: Double, now: Date = Date()) -> Bool {
        Self.same(configMax, max) && Self.same(configDecay, decay) && now.timeIntervalSince(learnedAt) < Self.maxAge
    }

    /// The sentence reports, logs and `doctor` use: "key behaves like tier starter, config says pro".
    public var summary: String { "key behaves like \(label), config says \(configLabel)" }

    static func same(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * Swift.max(1, abs(b)) }

    /// The key's learned limit, in force or not; nil when none was learned (or it was forgotten).
    public static func load(on db: PGConnection, fingerprint: String) throws(PGError) -> LearnedPacing? {
        let rows = try db.query(
            """
            SELECT learned_max, learned_decay, learned_label, learned_at, learned_reason, learned_config_max,
                   learned_config_decay, learned_config_label
              FROM audit.api_keys WHERE key_fingerprint = $1 AND learned_max IS NOT NULL
            """, [fingerprint]
        ).rows
        guard let r = rows.first else { return nil }
        return LearnedPacing(
            max: try r.decode(0), decayPerSecond: try r.decode(1), label: try r.decode(2), learnedAt: try r.decode(3),
            reason: try r.decode(4), configMax: try r.decode(5), configDecay: try r.decode(6), configLabel: try r.decode(7))
    }

    /// Stores `learned` for the key (learned_at = the database's now), unless another process already stored a
    /// limit at least as low for the same configuration (two processes sharing a key never raise it again).
    public static func record(_ learned: LearnedPacing, on db: PGConnection, fingerprint: String) throws(PGError) {
        try db.execute(
            """
            UPDATE audit.api_keys
               SET learned_max = $2, learned_decay = $3, learned_label = $4, learned_at = clock_timestamp(),
                   learned_reason = $5, learned_config_max = $6, learned_config_decay = $7, learned_config_label = $8
             WHERE key_fingerprint = $1
               AND NOT (learned_max IS NOT NULL AND learned_config_max = $6 AND learned_config_decay = $7
                        AND learned_max <= $2 AND learned_decay <= $3
                        AND learned_at > clock_timestamp() - make_interval(secs => $9))
            """,
            [
                fingerprint, learned.max, learned.decayPerSecond, learned.label, learned.reason, learned.configMax,
                learned.configDecay, learned.configLabel, maxAge,
            ])
    }

    /// Forgets the key's learned limit (the config changed, or it is older than ``maxAge``).
    public static func forget(on db: PGConnection, fingerprint: String) throws(PGError) {
        try db.execute(
            """
            UPDATE audit.api_keys
               SET learned_max = NULL, learned_decay = NULL, learned_label = NULL, learned_at = NULL, learned_reason = NULL,
                   learned_config_max = NULL, learned_config_decay = NULL, learned_config_label = NULL
             WHERE key_fingerprint = $1
            """, [fingerprint])
    }
}
