import Foundation

/// Options of one collection.
public struct CollectOptions: Sendable {
    /// Start of history for a first run (nil = everything).
    public var since: Date?
    /// Ignore stored high-water marks and collect everything again (from `since`).
    public var full: Bool
    /// Seconds re-read before the high-water mark on incremental runs (late-booked entries).
    public var overlapSeconds: Int64
    /// Seconds kept between Kraken's clock and a window's end, so an entry being booked right now is left
    /// for the next run rather than half-seen.
    public var settleSeconds: Int64
    public var retry: RetryPolicy
    /// Backfill through Kraken's data export (issue 10).
    public var export: ExportOptions
    /// What is collected: everything (`collect`, `run`), or the narrow passes of `watch` (issue 20).
    public var scope: CollectScope = .everything

    public init(
        since: Date? = nil, full: Bool = false, overlapSeconds: Int64 = 600, settleSeconds: Int64 = 2, retry: RetryPolicy = RetryPolicy(),
        export: ExportOptions = ExportOptions()
    ) {
        self.export = export
        self.since = since
        self.full = full
        self.overlapSeconds = overlapSeconds
        self.settleSeconds = settleSeconds
        self.retry = retry
    }
}
