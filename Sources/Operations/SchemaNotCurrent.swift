/// The schema needs `kraken-audit migrate` (exit 78).
public struct SchemaNotCurrent: Error, CustomStringConvertible, Sendable, Equatable {
    /// The versions of the migrations not applied yet.
    public let pending: [Int]

    public init(pending: [Int]) { self.pending = pending }

    public var description: String {
        "the database schema is not current (\(pending.count) migration(s) pending): run `kraken-audit migrate` first"
    }
}
