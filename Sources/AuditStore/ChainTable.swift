import AuditKernel

/// One hash-chained table as `audit.chain_tables` describes it (migration 0012).
public struct ChainTable: Sendable, Equatable {
    public struct Column: Sendable, Equatable {
        public let name: String
        /// PostgreSQL's name of the type (`numeric`, `timestamp with time zone`, `text[]`, ...).
        public let type: String
    }

    /// The chain's name: the table users know (`ledger_entries` for the versions in `ledger_entry_versions`).
    public let chain: String
    /// The table in schema `audit` holding the rows.
    public let relation: String
    /// The columns that name a row in a report (Kraken id, version, ...).
    public let keyColumns: [String]
    /// The encoded columns, in encoding order.
    public let columns: [Column]

    /// Every chained table, in name order.
    public static func all(on db: PGConnection) throws(ChainError) -> [ChainTable] {
        do {
            guard try db.query("SELECT to_regclass('audit.chain_tables') IS NOT NULL").rows[0].decode(0, as: Bool.self) else {
                throw ChainError.notMigrated
            }
            let rows = try db.query(
                """
                SELECT t.chain, t.relation, t.encoding, array_to_json(t.key_columns)::text,
                       json_agg(json_build_array(c.col, a.atttypid::regtype::text) ORDER BY c.n)::text
                  FROM audit.chain_tables t
                 CROSS JOIN LATERAL unnest(t.columns) WITH ORDINALITY AS c(col, n)
                  LEFT JOIN pg_catalog.pg_attribute a
                         ON a.attrelid = pg_catalog.format('audit.%I', t.relation)::regclass AND a.attname = c.col
                            AND NOT a.attisdropped
                 GROUP BY t.chain, t.relation, t.encoding, t.key_columns
                 ORDER BY t.chain
                """
            ).rows
            return try rows.map { row -> ChainTable in
                let chain = try row.decode(0, as: String.self)
                let encoding = try row.decode(2, as: Int.self)
                guard encoding == ChainEncoding.version else { throw ChainError.unknownEncoding(chain: chain, encoding: encoding) }
                let keys = try JSONValue.parse(try row.decode(3, as: String.self)).arrayValue?.compactMap(\.stringValue) ?? []
                let pairs = try JSONValue.parse(try row.decode(4, as: String.self)).arrayValue ?? []
                let columns = try pairs.map { pair -> Column in
                    let name = pair.arrayValue?.first?.stringValue ?? ""
                    // A chained column that no longer exists is verified as NULL-typed: it cannot be encoded.
                    guard let type = pair.arrayValue?.last?.stringValue else {
                        throw ChainError.unknownColumnType(chain: chain, column: name, type: "(dropped)")
                    }
                    return Column(name: name, type: type)
                }
                return ChainTable(chain: chain, relation: try row.decode(1, as: String.self), keyColumns: keys, columns: columns)
            }
        } catch let error as ChainError {
            throw error
        } catch let error as PGError {
            throw .database(error)
        } catch {
            throw .database(PGError(kind: .decode, message: "audit.chain_tables: \(error)"))
        }
    }
}
