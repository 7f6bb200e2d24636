import AuditKernel

/// One hash chain's state when a digest was sealed: which account and table, how long the chain is and the hash
/// of its last row.
public struct ChainHead: Codable, Equatable, Sendable {
    /// `audit.accounts.id`.
    public var accountId: Int
    /// The account's configured name.
    public var account: String
    /// The chained table (`ledger_entries`, `api_calls`, …).
    public var table: String
    /// The chain's length, which is the position of its head row.
    public var rows: Int64
    /// Lower-case hex SHA-256 of the head row (64 characters).
    public var headHash: String
    /// RFC 3339 UTC insert time of the first row (nil for an empty chain).
    public var firstAt: String?
    /// RFC 3339 UTC insert time of the last row (nil for an empty chain).
    public var lastAt: String?

    /// A chain head.
    public init(
        accountId: Int, account: String, table: String, rows: Int64, headHash: String, firstAt: String? = nil, lastAt: String? = nil
    ) {
        self.accountId = accountId
        self.account = account
        self.table = table
        self.rows = rows
        self.headHash = headHash
        self.firstAt = firstAt
        self.lastAt = lastAt
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case accountId = "account_id"
        case account, table, rows
        case headHash = "head_hash"
        case firstAt = "first_at"
        case lastAt = "last_at"
    }

    /// Writes every key, absent times as `null` (the shape of the signed JSON).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(accountId, forKey: .accountId)
        try c.encode(account, forKey: .account)
        try c.encode(table, forKey: .table)
        try c.encode(rows, forKey: .rows)
        try c.encode(headHash, forKey: .headHash)
        try c.encode(firstAt, forKey: .firstAt)
        try c.encode(lastAt, forKey: .lastAt)
    }

    /// The head as the signed JSON object.
    var jsonValue: JSONValue {
        .object([
            (CodingKeys.accountId.rawValue, .number(String(accountId))), (CodingKeys.account.rawValue, .string(account)),
            (CodingKeys.table.rawValue, .string(table)), (CodingKeys.rows.rawValue, .number(String(rows))),
            (CodingKeys.headHash.rawValue, .string(headHash)), (CodingKeys.firstAt.rawValue, firstAt.map(JSONValue.string) ?? .null),
            (CodingKeys.lastAt.rawValue, lastAt.map(JSONValue.string) ?? .null),
        ])
    }

    /// The head from its JSON object (exactly its seven members), for ``SignedDigest/parse(fileBytes:)``.
    init(json: JSONValue, at path: String) throws(IntegrityError) {
        let o = try DigestFields(json, at: path, names: CodingKeys.allCases.map(\.rawValue))
        accountId = Int(try o.integer(CodingKeys.accountId.rawValue))
        account = try o.string(CodingKeys.account.rawValue)
        table = try o.string(CodingKeys.table.rawValue)
        rows = try o.integer(CodingKeys.rows.rawValue)
        headHash = try o.string(CodingKeys.headHash.rawValue)
        firstAt = try o.optionalString(CodingKeys.firstAt.rawValue)
        lastAt = try o.optionalString(CodingKeys.lastAt.rawValue)
    }
}
