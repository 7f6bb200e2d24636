import Foundation

/// The tool's own calls to Kraken for one account over the period (`audit.api_calls`).
public struct APIUsage: Sendable {
    /// Calls made.
    public var calls: Int
    /// Calls that ended in an error.
    public var errors: Int
    /// Calls per endpoint, sorted by endpoint.
    public var callsByEndpoint: [(String, Int)]
    /// Failed calls per error kind, most frequent first.
    public var errorsByKind: [(String, Int)]
    /// Highest rate-limit counter the pacing reached after a call, if recorded.
    public var peakCounter: Double?
    /// Calls per hour (hour start, count), for the chart.
    public var callsPerHour: [(Date, Int)]
    /// Keys paced slower than configured because Kraken rate-limited them despite pacing, one sentence each:
    /// "key behaves like tier starter, config says pro (...)" (collector's learned tier, migration 0006).
    public var pacingNotes: [String] = []
}
