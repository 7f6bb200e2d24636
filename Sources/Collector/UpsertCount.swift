/// Counts of what an upsert did.
public struct UpsertCount: Sendable, Equatable {
    public var inserted = 0
    public var updated = 0
    public init(inserted: Int = 0, updated: Int = 0) {
        self.inserted = inserted
        self.updated = updated
    }
    static func + (a: UpsertCount, b: UpsertCount) -> UpsertCount {
        UpsertCount(inserted: a.inserted + b.inserted, updated: a.updated + b.updated)
    }
}
