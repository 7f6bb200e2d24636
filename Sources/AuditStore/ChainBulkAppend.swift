import AuditKernel
import COpenSSL
import Foundation

/// Appends many rows to one hash chain in a few statements (migration 0014): positions after the chain's head,
/// hashes and column digests computed here, by the same encoding code `verify` uses (``ChainVerifier``), and the
/// rows copied into the chained table already linked. The per-row trigger skips rows that arrive with a position;
/// the statement trigger checks the positions, links, account and time of every statement under the chain's lock
/// and moves `audit.chain_heads` (migration 0014 says why that is safe). A row whose hash were wrong would be
/// reported by `verify` like any changed row: nothing here is trusted by the verifier.
///
/// Use, inside one transaction: ``lock(account:)``, fill a temporary table that has every chained column of
/// `table` by name plus `chain_seq bigint` (1, 2, 3, ... in append order: decide what to append while holding the
/// lock, e.g. an anti-join against the stored rows), then ``append(account:from:)``.
public struct ChainBulkAppend {
    let db: PGConnection
    let table: ChainTable
    /// Rows per COPY statement: bounds the memory held here (each row's COPY text is kept until its chunk is sent).
    public var chunkRows = 50_000

    /// `table`: a chain of the compiled catalogue (``ChainTable/catalogue``), e.g. the one named `ledger_entries`.
    public init(db: PGConnection, table: ChainTable) {
        self.db = db
        self.table = table
    }

    /// Takes the chain's transaction-level advisory lock (the one the chain triggers take) for `account`.
    public func lock(account: Int) throws(PGError) {
        try db.execute("SELECT pg_advisory_xact_lock(audit.chain_lock_key($1), $2)", [table.chain, account])
    }

    /// Appends the rows of the temporary table `relation` (the caller's code names it; its rows must belong to
    /// `account`) in `chain_seq` order; returns how many. Call ``lock(account:)`` before choosing the rows.
    public func append(account: Int, from relation: String) throws -> Int {
        try lock(account: account)
        let total = try db.query("SELECT count(*) FROM \(relation)").rows[0].decode(0, as: Int.self)
        guard total > 0 else { return 0 }
        try db.executeScript("CREATE UNIQUE INDEX ON \(relation) (chain_seq)")
        let head = try db.query(
            """
            SELECT chain_pos, encode(row_hash, 'hex') FROM audit.\(PGQuote.identifier(table.relation))
             WHERE chain_account = $1 ORDER BY chain_pos DESC LIMIT 1
            """, [account]
        ).rows.first
        var position = try head?.decode(0, as: Int64.self) ?? 0
        var previous =
            try head.flatMap { ChainVerifier.unhex(Array(try $0.decode(1, as: String.self).utf8)) } ?? [UInt8](repeating: 0, count: 32)
        // One link time for the whole append: inside the transaction, as the statement trigger checks.
        let now = try db.query("SELECT t::text, (extract(epoch FROM t) * 1000000)::bigint FROM (SELECT clock_timestamp() AS t) n").rows[0]
        let chainedAtText = Array(try now.decode(0, as: String.self).utf8)
        let chainedAtMicros = try now.decode(1, as: Int64.self)

        // Per column: how it travels for the encoding, and (when that is not its COPY text) its COPY text as well.
        var selects: [String] = []
        var transports: [ChainVerifier.Transport] = []
        var insertField: [Int] = []  // index in the COPY OUT line of each column's insertable text
        var fieldIndex: [Int] = []  // index in the COPY OUT line of each column's encoding input
        for column in table.columns {
            guard let t = ChainVerifier.transport(column.name, type: column.type) else {
                throw ChainError.unknownColumnType(chain: table.chain, column: column.name, type: column.type)
            }
            transports.append(t.transport)
            fieldIndex.append(selects.count)
            selects.append(t.sql)
            if t.sql == "r." + PGQuote.identifier(column.name) {
                insertField.append(selects.count - 1)
            } else {
                selects.append("r." + PGQuote.identifier(column.name))
                insertField.append(selects.count - 1)
            }
        }
        let columnList =
            (table.columns.map { PGQuote.identifier($0.name) }
            + ["chain_account", "chain_pos", "chained_at", "prev_hash", "row_hash", "col_digest"]).joined(separator: ", ")
        let copyIn = "COPY audit.\(PGQuote.identifier(table.relation)) (\(columnList)) FROM STDIN"
        let chainField = ChainVerifier.field(Array(table.chain.utf8))
        let accountText = Array(String(account).utf8)

        var spans: [ChainVerifier.CopySpan] = []
        var message: [UInt8] = []
        message.reserveCapacity(8192)
        var scratch: [UInt8] = []
        var field: [UInt8] = []
        var digest: [UInt8] = []
        var hash = [UInt8](repeating: 0, count: 32)
        var appended = 0
        var low = 1
        while low <= total {
            let high = min(low + chunkRows - 1, total)
            var out: [UInt8] = []
            out.reserveCapacity((high - low + 1) * 512)
            try db.copyOut(
                "SELECT \(selects.joined(separator: ", ")) FROM \(relation) r WHERE r.chain_seq BETWEEN \(low) AND \(high) ORDER BY r.chain_seq"
            ) { line in
                ChainVerifier.spans(line, into: &spans)
                position += 1
                let positionText = Array(String(position).utf8)
                message.removeAll(keepingCapacity: true)
                message += previous
                message += [0, 0, 0, 1]
                message += chainField
                message += ChainVerifier.field(accountText)
                message += ChainVerifier.field(positionText)
                Self.appendMicros(chainedAtMicros, to: &message)
                digest.removeAll(keepingCapacity: true)
                for (i, transport) in transports.enumerated() {
                    field.removeAll(keepingCapacity: true)
                    ChainVerifier.appendField(line, spans[fieldIndex[i]], transport, to: &field, &scratch)
                    message += field
                    field.withUnsafeBufferPointer { p in _ = SHA256(p.baseAddress, p.count, &hash) }
                    digest += hash[0..<4]
                }
                message.withUnsafeBufferPointer { p in _ = SHA256(p.baseAddress, p.count, &hash) }
                for i in insertField {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: line[spans[i].start..<spans[i].end]))
                    out.append(0x09)
                }
                out += accountText
                out.append(0x09)
                out += positionText
                out.append(0x09)
                out += chainedAtText
                for bytes in [previous, hash, digest] {
                    out += [0x09, 0x5C, 0x5C, 0x78]  // tab, then \\x: bytea's hex form, its backslash escaped for COPY
                    Self.appendHex(bytes, to: &out)
                }
                out.append(0x0A)
                previous = hash
            }
            let copied = try out.withUnsafeBytes { raw in try db.copyInRaw(copyIn) { send in try send(raw) } }
            appended += copied
            low = high + 1
        }
        return appended
    }

    static func appendMicros(_ micros: Int64, to out: inout [UInt8]) {
        let u = UInt64(bitPattern: micros)
        out += [0, 0, 0, 8]
        for k in 0..<8 { out.append(UInt8((u >> (8 * UInt64(7 - k))) & 0xFF)) }
    }

    static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        digits.withUTF8Buffer { d in
            for b in bytes {
                out.append(d[Int(b >> 4)])
                out.append(d[Int(b & 0x0F)])
            }
        }
    }
}
