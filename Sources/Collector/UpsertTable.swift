/// One table the collector upserts, described once: the staging table's columns (name and type, in the order the
/// row builders of ``CollectStore`` produce values), the natural key, and how a changed object's new version
/// takes a column. The staging table's DDL, the INSERT's column list and its SELECT list are all derived from it,
/// so a column is added in one place. Values always travel through `COPY` into the staging table and `$1` (the
/// account id); nothing of a row is ever part of the SQL text.
///
/// The tables are append-only version tables (migration 0012: `audit.ledger_entry_versions` behind the view
/// `audit.ledger_entries`, ...): a new object is inserted as version 1, a changed one as the next version of the
/// stored object; nothing is updated in place, and the chain trigger links every version into the account's
/// hash chain.
struct UpsertTable: Sendable {
    /// A column of the staging table.
    struct Column: Sendable {
        let name: String
        /// The staging table's type (the target table's column has the same type).
        let type: String
        /// How an existing row's value is updated on conflict.
        let onConflict: OnConflict
    }

    enum OnConflict: Sendable {
        /// The new version takes the staged value.
        case replace
        /// `COALESCE(s.name, t.name)`: an answer without the field (e.g. trades asked without `ledgers`) keeps
        /// what an earlier version had.
        case keepWhenMissing
        /// Part of the natural key: never updated.
        case key
    }

    /// The current-version view in schema `audit` (our constant), e.g. `ledger_entries`.
    var table: String
    /// The version table behind it, e.g. `ledger_entry_versions`.
    var versions: String
    /// The temporary staging table (`ON COMMIT DELETE ROWS`).
    let stage: String
    let columns: [Column]
    /// Columns of the staging table the target table does not have (the funding stage serves two tables).
    var notInTable: Set<String>
    /// The condition under which a stored object gets a new version (`t` is the current version, `EXCLUDED` the
    /// staged row).
    let updateWhen: String

    init(
        table: String, versions: String, stage: String, columns: [(String, String)], keys: Set<String>,
        keepWhenMissing: Set<String> = [], notInTable: Set<String> = [], updateWhen: String
    ) {
        self.table = table
        self.versions = versions
        self.stage = stage
        self.columns = columns.map { name, type in
            Column(
                name: name, type: type,
                onConflict: keys.contains(name) ? .key : keepWhenMissing.contains(name) ? .keepWhenMissing : .replace)
        }
        self.notInTable = notInTable
        self.updateWhen = updateWhen
    }

    /// The same staging table feeding another target table.
    func feeding(_ table: String, versions: String, notInTable: Set<String>) -> UpsertTable {
        var copy = self
        copy.table = table
        copy.versions = versions
        copy.notInTable = notInTable
        return copy
    }

    /// `CREATE TEMP TABLE IF NOT EXISTS stage (...) ON COMMIT DELETE ROWS;`
    var stageDDL: String {
        "CREATE TEMP TABLE IF NOT EXISTS \(stage) (\(columns.map { "\($0.name) \($0.type)" }.joined(separator: ", "))) ON COMMIT DELETE ROWS;"
    }

    var tableColumns: [Column] { columns.filter { !notInTable.contains($0.name) } }

    /// `WITH cur AS (current versions of the staged keys), up AS (INSERT new objects and changed objects' next
    /// versions ... RETURNING returning, (version = 1) AS inserted)`, then `more` (further CTEs reading `up`, each
    /// starting with `, name AS (`), then the inserted/updated counts.
    func upsertSQL(returning: [String] = [], more: String = "") -> String {
        let columns = tableColumns.filter { $0.name != "account_id" }
        let names = columns.map(\.name).joined(separator: ", ")
        let keys = columns.filter { $0.onConflict == .key }.map(\.name)
        let values = columns.map { c -> String in
            switch c.onConflict {
            case .key, .replace: return "s.\(c.name)"
            case .keepWhenMissing: return "COALESCE(s.\(c.name), t.\(c.name))"
            }
        }.joined(separator: ", ")
        let join = keys.map { "t.\($0) = s.\($0)" }.joined(separator: " AND ")
        let changed = updateWhen.replacingOccurrences(of: "EXCLUDED.", with: "s.")
        return """
            WITH cur AS (
                SELECT t.* FROM audit.\(table) t
                 WHERE t.account_id = $1 AND (\(keys.map { "t.\($0)" }.joined(separator: ", "))) IN (SELECT \(keys.joined(separator: ", ")) FROM \(stage))
            ),
            up AS (
                INSERT INTO audit.\(versions) AS v (account_id, version, first_seen_at, \(names))
                SELECT $1, COALESCE(t.version, 0) + 1, COALESCE(t.first_seen_at, now()), \(values)
                  FROM \(stage) s LEFT JOIN cur t ON \(join)
                 WHERE t.account_id IS NULL OR (\(changed))
                -- A concurrent writer stored the same version first: it stands. Named by constraint, which is the
                -- same on a table partitioned by time (sql/scale/partition_ledger_monthly.sql).
                ON CONFLICT ON CONSTRAINT \(versions)_pkey DO NOTHING
                RETURNING \((returning + ["(version = 1) AS inserted"]).joined(separator: ", "))
            )\(more)
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
            """
    }
}
