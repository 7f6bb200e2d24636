/// One table the collector upserts, described once: the staging table's columns (name and type, in the order the
/// row builders of ``CollectStore`` produce values), the natural key, and how a conflict updates a column. The
/// staging table's DDL, the INSERT's column list, its SELECT list and the ON CONFLICT SET list are all derived
/// from it, so a column is added in one place. Values always travel through `COPY` into the staging table and
/// `$1` (the account id); nothing of a row is ever part of the SQL text.
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
        /// `name = EXCLUDED.name`
        case replace
        /// `name = COALESCE(EXCLUDED.name, t.name)`: an answer without the field (e.g. trades asked without
        /// `ledgers`) keeps what an earlier answer gave.
        case keepWhenMissing
        /// Part of the natural key: never updated.
        case key
    }

    /// The target table in schema `audit` (our constant).
    var table: String
    /// The temporary staging table (`ON COMMIT DELETE ROWS`).
    let stage: String
    let columns: [Column]
    /// Columns of the staging table the target table does not have (the funding stage serves two tables).
    var notInTable: Set<String>
    /// The condition under which a conflicting row is updated (`t` is the existing row).
    let updateWhen: String

    init(
        table: String, stage: String, columns: [(String, String)], keys: Set<String>, keepWhenMissing: Set<String> = [],
        notInTable: Set<String> = [], updateWhen: String
    ) {
        self.table = table
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
    func feeding(_ table: String, notInTable: Set<String>) -> UpsertTable {
        var copy = self
        copy.table = table
        copy.notInTable = notInTable
        return copy
    }

    /// `CREATE TEMP TABLE IF NOT EXISTS stage (...) ON COMMIT DELETE ROWS;`
    var stageDDL: String {
        "CREATE TEMP TABLE IF NOT EXISTS \(stage) (\(columns.map { "\($0.name) \($0.type)" }.joined(separator: ", "))) ON COMMIT DELETE ROWS;"
    }

    var tableColumns: [Column] { columns.filter { !notInTable.contains($0.name) } }

    /// `WITH up AS (INSERT ... ON CONFLICT ... DO UPDATE ... RETURNING returning, (xmax = 0) AS inserted)`, then
    /// `more` (further CTEs reading `up`, each starting with `, name AS (`), then the inserted/updated counts.
    func upsertSQL(returning: [String] = [], more: String = "") -> String {
        let names = tableColumns.map(\.name).joined(separator: ", ")
        let keys = tableColumns.filter { $0.onConflict == .key }.map(\.name).joined(separator: ", ")
        let sets = tableColumns.compactMap { c -> String? in
            switch c.onConflict {
            case .key: return nil
            case .replace: return "\(c.name) = EXCLUDED.\(c.name)"
            case .keepWhenMissing: return "\(c.name) = COALESCE(EXCLUDED.\(c.name), t.\(c.name))"
            }
        }.joined(separator: ", ")
        return """
            WITH up AS (
                INSERT INTO audit.\(table) AS t (account_id, \(names))
                SELECT $1, \(names) FROM \(stage)
                ON CONFLICT (account_id, \(keys)) DO UPDATE SET \(sets), updated_at = now()
                WHERE \(updateWhen)
                RETURNING \((returning + ["(xmax = 0) AS inserted"]).joined(separator: ", "))
            )\(more)
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
            """
    }
}
