/// One thing `verify` found wrong: what, where (table, account, chain position, the row's Kraken id or key), and a
/// sentence saying it. Rows are named by their key columns' values (`ledger_id`, `version`, `id`, ...).
public struct ChainProblem: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The row's content no longer hashes to its stored hash: a value was changed after it was chained.
        case rowChanged = "row_changed"
        /// Positions are missing: rows were removed.
        case rowDeleted = "row_deleted"
        /// A row without a chain link (inserted with the triggers switched off) or one on a position taken twice.
        case rowInsertedOutOfBand = "row_inserted_out_of_band"
        /// A row's link to its predecessor is broken: the predecessor was replaced with a recomputed hash.
        case linkBroken = "link_broken"
        /// The chain is shorter than a signed digest says, or its last link disagrees with the chain head record.
        case chainTruncated = "chain_truncated"
        /// The chain no longer passes through a signed digest's head: rebuilt after it was sealed.
        case chainRebuilt = "chain_rebuilt"
        /// A digest (file or database copy) is missing, altered, badly signed or out of sequence.
        case digestInvalid = "digest_invalid"
        /// The database's chain catalogue (`audit.chain_tables`, the chained columns' types) differs from the one
        /// compiled into kraken-audit: a chain was pointed elsewhere or its encoding order changed.
        case catalogueAltered = "catalogue_altered"
    }

    public var kind: Kind
    public var table: String
    public var accountId: Int?
    public var account: String?
    public var position: Int64?
    /// The row's key columns and values, e.g. `["ledger_id": "L4UESK-...", "version": "1"]`.
    public var key: [String: String]
    /// The columns whose values changed (when `col_digest` could tell).
    public var columns: [String]
    /// One sentence saying what is wrong, naming the row.
    public var detail: String

    public init(
        kind: Kind, table: String, accountId: Int? = nil, account: String? = nil, position: Int64? = nil,
        key: [String: String] = [:], columns: [String] = [], detail: String
    ) {
        self.kind = kind
        self.table = table
        self.accountId = accountId
        self.account = account
        self.position = position
        self.key = key
        self.columns = columns
        self.detail = detail
    }
}
