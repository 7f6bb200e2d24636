import Foundation

/// The collection runs (`collect` and `run`) of one account in the period.
public struct CollectionSummary: Sendable {
    /// Runs started in the period.
    public var runs: Int
    /// Of those, runs that succeeded.
    public var succeeded: Int
    /// Of those, runs that failed or were interrupted.
    public var failed: Int
    /// End of the latest successful run before the period's end, if any.
    public var lastSuccess: Date?
    /// Errors of failed runs in the period (newest first), so the report says what failed.
    public var failures: [(time: Date, error: String)]
    /// Rows inserted per table (the runs' `stats`), sorted by table.
    public var rowsAdded: [(String, Int)]
    /// Seconds between the last successful collection and the report's end.
    public var freshnessSeconds: Double?
}
