import AuditKernel
import Foundation

/// Recomputes the hash chains from the rows (migration 0012) and reports every row that changed, went missing,
/// appeared out of band or no longer links to its predecessor, naming table, account, position and key.
///
/// One set-based query per table: each row's hash is recomputed from its columns with the encoding expressions of
/// ``ChainEncoding`` (sent inline, never a stored function), and its link, position and predecessor are compared
/// through window functions over the chain's index order. Only the rows with a problem, and each chain's last row,
/// come back to the client.
public struct ChainVerifier {
    /// A chain: one table's rows of one account.
    public struct ChainKey: Hashable, Sendable, Codable {
        public let chain: String
        public let accountId: Int
        public init(chain: String, accountId: Int) {
            self.chain = chain
            self.accountId = accountId
        }
    }

    /// A chain's last row as found in the table.
    public struct Tail: Sendable, Equatable {
        public let key: ChainKey
        public let position: Int64
        public let hash: String
        public let rows: Int64
    }

    public struct Result: Sendable {
        public var problems: [ChainProblem] = []
        /// Rows whose hash was recomputed.
        public var rowsChecked: Int64 = 0
        /// The last row of each chain checked.
        public var tails: [ChainKey: Tail] = [:]
    }

    let db: PGConnection

    public init(db: PGConnection) { self.db = db }

    /// Checks every chain of `tables` (all chained tables when nil). `accountIds` limits it to those accounts;
    /// `from` starts a chain at that position (the rows before it are taken as verified: the nightly incremental
    /// pass starts at the last signed head); `since` checks only rows chained from then on.
    public func verify(
        tables: [ChainTable]? = nil, accountIds: Set<Int>? = nil, from: [ChainKey: Int64] = [:], since: Date? = nil
    ) throws(ChainError) -> Result {
        let chained: [ChainTable]
        if let tables { chained = tables } else { chained = try ChainTable.all(on: db) }
        let names = try accountNames()
        var result = Result()
        do {
            // Built-in functions only, whatever objects other schemas hold (a session setting, not a transaction's).
            _ = try db.query("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', false)")
            defer { try? db.executeScript("RESET search_path") }
            for table in chained {
                try check(table, accountIds: accountIds, from: from, since: since, names: names, into: &result)
            }
        } catch let error as ChainError {
            throw error
        } catch let error as PGError {
            throw .database(error)
        } catch {
            throw .database(PGError(kind: .query, message: "\(error)"))
        }
        return result
    }

    /// The stored hash of the row at `position` of a chain, nil when no row holds that position.
    public func rowHash(_ key: ChainKey, position: Int64, table: ChainTable) throws(ChainError) -> String? {
        do {
            let rows = try db.query(
                "SELECT encode(row_hash, 'hex') FROM audit.\(PGQuote.identifier(table.relation)) WHERE chain_account = $1 AND chain_pos = $2",
                [key.accountId, position]
            ).rows
            return try rows.first?.decodeOptional(0, as: String.self)
        } catch {
            throw .database(error)
        }
    }

    private func accountNames() throws(ChainError) -> [Int: String] {
        do {
            var names = [0: "(no account)"]
            for row in try db.query("SELECT id, name FROM audit.accounts").rows {
                names[try row.decode(0, as: Int.self)] = try row.decode(1, as: String.self)
            }
            return names
        } catch {
            throw .database(error)
        }
    }

    private func check(
        _ table: ChainTable, accountIds: Set<Int>?, from: [ChainKey: Int64], since: Date?, names: [Int: String],
        into result: inout Result
    ) throws {
        let relation = "audit." + PGQuote.identifier(table.relation)
        let encoding = try ChainEncoding.rowEncoding(table, row: "r")
        let starts = from.filter { $0.key.chain == table.chain }
        let keyColumns = table.keyColumns.map { "r.\(PGQuote.identifier($0))::text AS \(PGQuote.identifier("k_" + $0))" }
        let keyJSON =
            "json_build_object("
            + table.keyColumns.map { "\(PGQuote.literal($0)), \(PGQuote.identifier("k_" + $0))" }
            .joined(separator: ", ") + ")::text"
        var conditions = ["true"]
        var binds: [(any PGEncodable)?] = [
            PGArray.text(starts.keys.map { String($0.accountId) }), PGArray.text(starts.keys.map { String(starts[$0]!) }),
        ]
        if let accountIds {
            conditions.append("r.chain_account = ANY ($3::int[])")
            binds.append(PGArray.text(accountIds.sorted().map(String.init)))
        }
        if let since {
            conditions.append("(r.chained_at IS NULL OR r.chained_at >= $\(binds.count + 1)::timestamptz)")
            binds.append(since)
        }
        let zero = "'\\x\(ChainEncoding.zeroHash)'::bytea"
        let sql = """
            SELECT chain_account, chain_pos, lag_pos, \(keyJSON), bad_hash, bad_link, is_last, rows_in_chain,
                   encode(row_hash, 'hex'), from_pos
              FROM (SELECT r.chain_account, r.chain_pos, r.row_hash, r.prev_hash, f.p AS from_pos, \(keyColumns.joined(separator: ", ")),
                           lag(r.chain_pos) OVER w AS lag_pos,
                           lag(r.row_hash) OVER w AS lag_hash,
                           (r.row_hash IS NULL OR r.prev_hash IS NULL OR r.chained_at IS NULL
                            OR sha256(r.prev_hash || \(encoding)) IS DISTINCT FROM r.row_hash) AS bad_hash,
                           lead(r.chain_pos) OVER w IS NULL AS is_last,
                           count(*) OVER (PARTITION BY r.chain_account) AS rows_in_chain
                      FROM \(relation) r
                      LEFT JOIN (SELECT unnest($1::int[]) AS a, unnest($2::bigint[]) AS p) f ON f.a = r.chain_account
                     WHERE \(conditions.joined(separator: " AND "))
                       AND (r.chain_pos IS NULL OR r.chain_pos >= coalesce(f.p, 1))
                    WINDOW w AS (PARTITION BY r.chain_account ORDER BY r.chain_pos)) x
                   CROSS JOIN LATERAL (SELECT (lag_pos IS NOT NULL AND prev_hash IS DISTINCT FROM lag_hash)
                                              OR (lag_pos IS NULL AND chain_pos = 1 AND prev_hash IS DISTINCT FROM \(zero)) AS bad_link) l
             WHERE bad_hash OR bad_link OR is_last OR chain_pos IS NULL
                OR chain_pos <> coalesce(lag_pos + 1, from_pos, 1)
            """
        let rows = try db.query(sql, binds).rows
        // Where the chain triggers last left each chain: a row beyond it was not appended by them.
        var recorded: [Int: Int64] = [:]
        for row in try db.query("SELECT account_id, position FROM audit.chain_heads WHERE chain = $1", [table.chain]).rows {
            recorded[try row.decode(0, as: Int.self)] = try row.decode(1, as: Int64.self)
        }
        var problemRows: [(ChainKey, Int64?, [String: String])] = []
        for row in rows {
            let accountId = try row.decodeOptional(0, as: Int.self) ?? 0
            let key = ChainKey(chain: table.chain, accountId: accountId)
            let position = try row.decodeOptional(1, as: Int64.self)
            let lagPosition = try row.decodeOptional(2, as: Int64.self)
            let rowKey = Self.keyValues(try row.decode(3, as: String.self))
            let badHash = try row.decode(4, as: Bool.self)
            let badLink = try row.decode(5, as: Bool.self)
            let isLast = try row.decode(6, as: Bool.self)
            let fromPosition = try row.decodeOptional(9, as: Int64.self) ?? 1
            let account = names[accountId]
            func problem(_ kind: ChainProblem.Kind, _ detail: String, columns: [String] = []) {
                result.problems.append(
                    ChainProblem(
                        kind: kind, table: table.chain, accountId: accountId, account: account, position: position, key: rowKey,
                        columns: columns, detail: detail))
            }
            let named = "\(table.chain) row \(Self.describe(rowKey))\(account.map { " of account \($0)" } ?? "")"
            guard let position else {
                problem(.rowInsertedOutOfBand, "\(named) has no chain link: it was inserted with the chain triggers switched off")
                continue
            }
            if isLast, position >= 1 {
                result.tails[key] = Tail(
                    key: key, position: position, hash: try row.decodeOptional(8, as: String.self) ?? "",
                    rows: try row.decode(7, as: Int64.self))
                result.rowsChecked += try row.decode(7, as: Int64.self)
            }
            let expected = lagPosition.map { $0 + 1 } ?? fromPosition
            if position < expected {
                problem(.rowInsertedOutOfBand, "\(named) claims chain position \(position), which another row already holds")
            } else if position > expected {
                let gap = expected == position - 1 ? "position \(expected) is" : "positions \(expected)-\(position - 1) are"
                let before = lagPosition.map { "after position \($0)" } ?? "at the start of the chain"
                problem(
                    .rowDeleted,
                    "\(table.chain)\(account.map { " of account \($0)" } ?? ""): \(gap) missing \(before), before \(named) (position \(position)): rows were deleted"
                )
            }
            if position > recorded[accountId, default: 0] {
                problem(
                    .rowInsertedOutOfBand,
                    "\(named) (position \(position)) lies beyond the chain's last link as the chain triggers recorded it (position \(recorded[accountId, default: 0])): it was inserted with the triggers switched off"
                )
            } else if badHash && badLink {
                problem(
                    .rowInsertedOutOfBand,
                    "\(named) (position \(position)) neither hashes to its link nor links to position \(position - 1): a forged row")
            } else if badHash {
                problemRows.append((key, position, rowKey))
            } else if badLink {
                problem(
                    .linkBroken,
                    "\(named) (position \(position)) no longer links to position \(position - 1): the row before it was replaced, with a recomputed hash"
                )
            }
        }
        for (key, position, rowKey) in problemRows {
            let columns = try changedColumns(table, key: key, position: position)
            let account = names[key.accountId]
            let named = "\(table.chain) row \(Self.describe(rowKey))\(account.map { " of account \($0)" } ?? "")"
            let what = columns.isEmpty ? "its content changed" : "changed: \(columns.joined(separator: ", "))"
            result.problems.append(
                ChainProblem(
                    kind: .rowChanged, table: table.chain, accountId: key.accountId, account: account, position: position,
                    key: rowKey, columns: columns,
                    detail: "\(named) (chain position \(position.map(String.init) ?? "?")) \(what) after it was chained"))
        }
    }

    /// The columns whose 4-byte digest no longer matches `col_digest` (empty when that was rewritten too).
    private func changedColumns(_ table: ChainTable, key: ChainKey, position: Int64?) throws -> [String] {
        guard let position else { return [] }
        let digests = try ChainEncoding.columnDigests(table, row: "r")
        let rows = try db.query(
            "SELECT encode(r.col_digest, 'hex'), \(digests.joined(separator: ", ")) FROM audit.\(PGQuote.identifier(table.relation)) r WHERE r.chain_account = $1 AND r.chain_pos = $2",
            [key.accountId, position]
        ).rows
        guard let row = rows.first, let stored = try row.decodeOptional(0, as: String.self), stored.count == 8 * table.columns.count
        else { return [] }
        let chars = Array(stored)
        var changed: [String] = []
        for (i, column) in table.columns.enumerated() {
            let now = try row.decode(i + 1, as: String.self)
            if String(chars[(8 * i)..<(8 * i + 8)]) != now { changed.append(column.name) }
        }
        return changed
    }

    static func keyValues(_ json: String) -> [String: String] {
        guard case .object(let pairs)? = try? JSONValue.parse(json) else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in pairs { out[k] = v.stringValue ?? "NULL" }
        return out
    }

    static func describe(_ key: [String: String]) -> String {
        // Kraken ids first (the names users search for), then version / id.
        func rank(_ name: String) -> Int { name == "version" || name == "id" ? 1 : 0 }
        let names = key.keys.sorted { (rank($0), $0) < (rank($1), $1) }
        return names.map { "\($0)=\(key[$0] ?? "")" }.joined(separator: " ")
    }
}
