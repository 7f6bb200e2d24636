/// Encoding v1 of a hash-chained row, as SQL expressions (migration 0012 documents the format; the chain triggers
/// build the same expressions from the same rules in `audit.chain_field_sql`).
///
/// ``ChainVerifier`` recomputes the hashes itself, from the values the server sends (``ChainVerifier/transport``);
/// these SQL expressions are the same rules written as SQL, for tests and tools that rebuild a chain in SQL (an
/// insider would: `TamperEvidenceTests` does it to show that a rebuilt chain fails its signed digest).
public enum ChainEncoding {
    /// The encoding version this build writes and verifies (`audit.chain_tables.encoding`).
    public static let version = 1

    /// 32 zero bytes: the `prev_hash` of a chain's first row.
    public static let zeroHash = String(repeating: "0", count: 64)

    /// The bytes of a value of PostgreSQL type `type` (as `format_type` names it), or nil when encoding v1 has no
    /// rule for the type.
    static func valueBytes(_ v: String, type: String) -> String? {
        switch type {
        case "text", "character varying": return "convert_to(\(v), 'UTF8')"
        case "integer", "bigint", "smallint", "numeric": return "convert_to((\(v))::text, 'UTF8')"
        // NULL stays NULL (every other rule is a strict function of the value).
        case "boolean": return "convert_to(CASE WHEN \(v) THEN 't' WHEN NOT \(v) THEN 'f' END, 'UTF8')"
        case "timestamp with time zone": return "int8send((extract(epoch FROM \(v)) * 1000000)::bigint)"
        case "double precision": return "float8send(\(v))"
        case "jsonb": return "convert_to((\(v))::text, 'UTF8')"
        case "bytea": return v
        default:
            if type.hasPrefix("numeric(") { return "convert_to((\(v))::text, 'UTF8')" }
            if type.hasSuffix("[]") { return "convert_to(to_jsonb(\(v))::text, 'UTF8')" }
            return nil
        }
    }

    /// A field: 4-byte big-endian length and the bytes, or `FF FF FF FF` for NULL.
    static func field(_ v: String, type: String) -> String? {
        guard let bytes = valueBytes(v, type: type) else { return nil }
        return "CASE WHEN (\(v)) IS NULL THEN '\\xffffffff'::bytea ELSE int4send(octet_length(\(bytes))) || \(bytes) END"
    }

    /// The whole row's encoding over the row alias `r`: version, chain name, chain account, position, chain time,
    /// then the chained columns in order.
    static func rowEncoding(_ table: ChainTable, row r: String) throws(ChainError) -> String {
        var parts = ["'\\x00000001'::bytea"]  // encoding version 1, 4 bytes big-endian
        parts.append(field(PGQuote.literal(table.chain), type: "text")!)
        parts.append(field("\(r).chain_account", type: "integer")!)
        parts.append(field("\(r).chain_pos", type: "bigint")!)
        parts.append(field("\(r).chained_at", type: "timestamp with time zone")!)
        for column in table.columns {
            guard let f = field("\(r).\(PGQuote.identifier(column.name))", type: column.type) else {
                throw .unknownColumnType(chain: table.chain, column: column.name, type: column.type)
            }
            parts.append(f)
        }
        return parts.joined(separator: " || ")
    }

}

/// Quoting for the few names the verifier puts into SQL text (table and column names read from the catalogue).
enum PGQuote {
    static func identifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
    static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
}
