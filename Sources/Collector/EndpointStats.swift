/// What collecting one endpoint did.
public struct EndpointStats: Sendable, Equatable {
    public var calls = 0
    public var rows = UpsertCount()
    /// Kraken's `count` for the last window, and what the database holds for it (paged endpoints).
    public var krakenCount: Int?
    public var storedCount: Int?
    /// Export backfill: the report's state after this run (`requested`, `imported`, ...).
    public var state: String?
    public init() {}

    /// Adds `other`'s calls and rows; keeps the later state and counts.
    func merged(_ other: EndpointStats) -> EndpointStats {
        var m = self
        m.calls += other.calls
        m.rows = m.rows + other.rows
        m.state = other.state ?? state
        m.krakenCount = other.krakenCount ?? krakenCount
        m.storedCount = other.storedCount ?? storedCount
        return m
    }
}
