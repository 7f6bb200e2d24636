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
    /// Rows per chunk (one COPY OUT of encoding inputs, one INSERT): bounds the memory held here (a chunk's encoding
    /// inputs and links) and the transition table each statement check reads. At least 1.
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

    /// What ``append(account:from:)`` did: rows appended, and where the time went (benchmarks print it): reading
    /// the rows' encoding inputs, hashing them (overlapping the inserts), and copying links and inserting rows.
    public struct Appended: Sendable {
        public var rows = 0
        public var readSeconds = 0.0
        public var hashSeconds = 0.0
        public var insertSeconds = 0.0
    }

    /// Appends the rows of the temporary table `relation` (the caller's code names it; its rows must belong to
    /// `account`) in `chain_seq` order. Call ``lock(account:)`` before choosing the rows.
    public func append(account: Int, from relation: String) throws -> Appended {
        var result = Appended()
        try lock(account: account)
        let total = try db.query("SELECT count(*) FROM \(relation)").rows[0].decode(0, as: Int.self)
        guard total > 0 else { return result }
        // Statistics too: a temporary table is never analysed by autovacuum, and without them PostgreSQL guessed a
        // few thousand rows per chunk and sorted each chunk's wide rows instead of reading them in index order.
        try db.executeScript("CREATE UNIQUE INDEX ON \(relation) (chain_seq); ANALYZE \(relation)")
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
        let chainedAtMicros = try now.decode(1, as: Int64.self)

        // Per column: how it travels for the encoding. The rows go to the table from `relation` itself, already typed:
        // only their links travel back (COPY into a small temporary table), and one INSERT ... SELECT per chunk joins
        // them to the rows, so the table receives exactly the values that were hashed, without a text round trip.
        // No ORDER BY: the statement check orders by position itself (migration 0014), and sorting each chunk's
        // wide rows cost ~1 s a million; the rows still arrive in chain order in practice (the join reads the links
        // in the order they were copied), which keeps a chain's rows together on disk, though nothing relies on it.
        var selects: [String] = []
        var transports: [ChainVerifier.Transport] = []
        for column in table.columns {
            guard let t = ChainVerifier.transport(column.name, type: column.type) else {
                throw ChainError.unknownColumnType(chain: table.chain, column: column.name, type: column.type)
            }
            transports.append(t.transport)
            selects.append(t.sql)
        }
        let seqField = selects.count
        selects.append("r.chain_seq")
        let columns = table.columns.map { PGQuote.identifier($0.name) }
        let insert = """
            INSERT INTO audit.\(PGQuote.identifier(table.relation)) (\(columns.joined(separator: ", ")), chain_account, chain_pos,
                chained_at, prev_hash, row_hash, col_digest)
            SELECT \(columns.map { "r." + $0 }.joined(separator: ", ")), $1, l.chain_pos, $2::timestamptz, l.prev_hash, l.row_hash,
                   l.col_digest
              FROM \(relation) r JOIN chain_bulk_links l ON l.chain_seq = r.chain_seq
             WHERE r.chain_seq BETWEEN $3 AND $4
            """
        try db.executeScript(
            """
            DROP TABLE IF EXISTS chain_bulk_links;
            CREATE TEMP TABLE chain_bulk_links (chain_seq bigint, chain_pos bigint, prev_hash bytea, row_hash bytea,
                col_digest bytea) ON COMMIT DROP;
            """)
        let chainedAt = try now.decode(0, as: String.self)
        let chainField = ChainVerifier.field(Array(table.chain.utf8))
        let accountText = Array(String(account).utf8)

        let prefix: [UInt8] = [0, 0, 0, 1] + chainField + ChainVerifier.field(accountText)
        var positionText: [UInt8] = []
        var spans: [ChainVerifier.CopySpan] = []
        var message: [UInt8] = []
        message.reserveCapacity(8192)
        var scratch: [UInt8] = []
        var field: [UInt8] = []
        var digest: [UInt8] = []
        var hash = [UInt8](repeating: 0, count: 32)
        let hasher = try SHA256Context()
        // Hashes one line of the COPY output (the encoding inputs of one row) into its link line in `out`.
        func link(_ line: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
            ChainVerifier.spans(line, into: &spans)
            position += 1
            positionText.removeAll(keepingCapacity: true)
            Self.appendDecimal(position, to: &positionText)
            message.removeAll(keepingCapacity: true)
            message += previous
            message += prefix  // version 1, chain name, chain account
            Self.appendLength(positionText.count, to: &message)
            message += positionText
            Self.appendMicros(chainedAtMicros, to: &message)
            digest.removeAll(keepingCapacity: true)
            for (i, transport) in transports.enumerated() {
                field.removeAll(keepingCapacity: true)
                ChainVerifier.appendField(line, spans[i], transport, to: &field, &scratch)
                message += field
                hasher.hash(field, into: &hash)
                digest += hash[0..<4]
            }
            hasher.hash(message, into: &hash)
            let seq = spans[seqField]
            out.append(contentsOf: UnsafeBufferPointer(rebasing: line[seq.start..<seq.end]))
            out.append(0x09)
            out += positionText
            // Each bytea as a tab, then \\x and hex: bytea's hex form, its backslash escaped for COPY.
            Self.appendHexField(previous, to: &out)
            Self.appendHexField(hash, to: &out)
            Self.appendHexField(digest, to: &out)
            out.append(0x0A)
            previous = hash
        }

        // A pipeline over chunks, on the one connection: read chunk k's encoding inputs (COPY OUT), then let the
        // server insert chunk k-1 while this thread hashes chunk k, then copy chunk k's links. Hashing (the
        // client's work) and inserting (the server's, most of the time) thus run on both cores at once.
        var low = 1
        var pending: (low: Int, high: Int, rows: Int)? = nil  // links copied, rows not yet inserted
        while true {
            let high = min(low + max(chunkRows, 1) - 1, total)
            var lines: [UInt8] = []
            var ends: [Int] = []
            if low <= total {
                let clock = Date()
                lines.reserveCapacity((high - low + 1) * 512)
                try db.copyOut(
                    "SELECT \(selects.joined(separator: ", ")) FROM \(relation) r WHERE r.chain_seq BETWEEN \(low) AND \(high) ORDER BY r.chain_seq"
                ) { line in
                    lines.append(contentsOf: line)
                    ends.append(lines.count)
                }
                result.readSeconds += Date().timeIntervalSince(clock)
            }
            var out: [UInt8] = []
            out.reserveCapacity(ends.count * 256)
            func hashChunk() {
                let started = Date()
                lines.withUnsafeBufferPointer { all in
                    var start = 0
                    for end in ends {
                        link(UnsafeBufferPointer(rebasing: all[start..<end]), into: &out)
                        start = end
                    }
                }
                result.hashSeconds += Date().timeIntervalSince(started)
            }
            let clock = Date()
            if let p = pending {
                let inserted = try db.execute(insert, [account, chainedAt, p.low, p.high], meanwhile: hashChunk)
                guard inserted == p.rows else {
                    throw ChainError.bulkCountMismatch(chain: table.chain, hashed: p.rows, inserted: inserted)
                }
                result.rows += inserted
            } else {
                hashChunk()
            }
            guard low <= total else {
                result.insertSeconds += Date().timeIntervalSince(clock)
                break
            }
            try db.executeScript("TRUNCATE chain_bulk_links")
            _ = try out.withUnsafeBytes { raw in try db.copyInRaw("COPY chain_bulk_links FROM STDIN") { send in try send(raw) } }
            result.insertSeconds += Date().timeIntervalSince(clock)
            pending = (low, high, ends.count)
            low = high + 1
        }
        return result
    }

    // Byte by byte below: an array literal would allocate for every row.
    static func appendLength(_ n: Int, to out: inout [UInt8]) {
        let u = UInt32(truncatingIfNeeded: n)
        out.append(UInt8(u >> 24))
        out.append(UInt8((u >> 16) & 0xFF))
        out.append(UInt8((u >> 8) & 0xFF))
        out.append(UInt8(u & 0xFF))
    }

    static func appendMicros(_ micros: Int64, to out: inout [UInt8]) {
        let u = UInt64(bitPattern: micros)
        appendLength(8, to: &out)
        for k in 0..<8 { out.append(UInt8((u >> (8 * UInt64(7 - k))) & 0xFF)) }
    }

    static func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
        precondition(value >= 0)
        let start = out.count
        var v = value
        repeat {
            out.append(UInt8(0x30 + v % 10))
            v /= 10
        } while v > 0
        out[start...].reverse()
    }

    static func appendHexField(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.append(0x09)
        out.append(0x5C)
        out.append(0x5C)
        out.append(0x78)
        for b in bytes {
            let hi = b >> 4
            let lo = b & 0x0F
            out.append(hi < 10 ? 0x30 + hi : 0x57 + hi)
            out.append(lo < 10 ? 0x30 + lo : 0x57 + lo)
        }
    }
}

/// SHA-256 through one reused OpenSSL context and one fetched algorithm: the one-shot `SHA256()` looks the
/// algorithm up on every call, which for the ~18 short inputs of each appended row (its hash and the column
/// digests) cost more than the hashing.
final class SHA256Context {
    private let md: OpaquePointer
    private let ctx: OpaquePointer

    init() throws(PGError) {
        guard let md = EVP_MD_fetch(nil, "SHA256", nil) else { throw PGError(kind: .query, message: "OpenSSL has no SHA256") }
        guard let ctx = EVP_MD_CTX_new() else {
            EVP_MD_free(md)
            throw PGError(kind: .query, message: "OpenSSL could not allocate a digest context")
        }
        self.md = md
        self.ctx = ctx
    }

    deinit {
        EVP_MD_CTX_free(ctx)
        EVP_MD_free(md)
    }

    /// SHA-256 of `bytes` into `out` (32 bytes).
    func hash(_ bytes: [UInt8], into out: inout [UInt8]) {
        var length: UInt32 = 0
        bytes.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                _ = EVP_DigestInit_ex2(ctx, md, nil)
                _ = EVP_DigestUpdate(ctx, p.baseAddress, p.count)
                _ = EVP_DigestFinal_ex(ctx, o.baseAddress, &length)
            }
        }
    }
}
