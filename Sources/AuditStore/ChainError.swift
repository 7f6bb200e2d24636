/// Why the hash chains could not be read or checked (not tampering: that is a ``ChainProblem``).
public enum ChainError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The database has no hash chains yet.
    case notMigrated
    /// A chained column has a type encoding v1 has no rule for (a migration added it without extending the encoding).
    case unknownColumnType(chain: String, column: String, type: String)
    /// The chain catalogue names an encoding this build does not know.
    case unknownEncoding(chain: String, encoding: Int)
    /// A bulk append inserted a different number of rows than it hashed (its source rows changed under it, or a
    /// `chain_seq` repeats): the transaction must roll back.
    case bulkCountMismatch(chain: String, hashed: Int, inserted: Int)
    /// The database failed.
    case database(PGError)

    public var description: String {
        switch self {
        case .notMigrated:
            "the database has no hash chains (audit.chain_tables is missing): run `kraken-audit migrate` first"
        case .unknownColumnType(let chain, let column, let type):
            "chain \(chain): column \(column) has type \(type), which encoding v1 cannot encode; upgrade kraken-audit"
        case .unknownEncoding(let chain, let encoding):
            "chain \(chain) uses encoding v\(encoding), which this kraken-audit does not know (it writes v\(ChainEncoding.version)); upgrade kraken-audit"
        case .bulkCountMismatch(let chain, let hashed, let inserted):
            "bulk append to chain \(chain): \(hashed) row(s) hashed but \(inserted) inserted (is chain_seq unique?); nothing was appended"
        case .database(let error):
            "reading the hash chains failed: \(error)"
        }
    }
}
