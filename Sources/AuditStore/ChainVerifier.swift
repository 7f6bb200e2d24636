import AuditKernel
import COpenSSL
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
        /// Rows of the chain being read (internal bookkeeping).
        var rowsInChain: Int64 = 0
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
        if let tables { chained = tables } else { chained = ChainTable.catalogue }
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

    /// How a column's value travels: as its text (whose UTF-8 bytes are the field), as microseconds since 1970
    /// (8 bytes big-endian), or as hex of its bytes.
    enum Transport { case text, micros, hex }

    /// The SELECT expression that sends column `name` of type `type`, and how to turn it into the field's bytes
    /// (encoding v1, ../sql/migrations/0012_hash_chains.sql); nil for a type encoding v1 has no rule for.
    static func transport(_ name: String, type: String) -> (sql: String, transport: Transport)? {
        let c = "r." + PGQuote.identifier(name)
        switch type {
        case "text", "character varying", "integer", "bigint", "smallint", "numeric", "boolean", "jsonb": return (c, .text)
        case "timestamp with time zone": return ("(extract(epoch FROM \(c)) * 1000000)::bigint", .micros)
        case "double precision": return ("encode(float8send(\(c)), 'hex')", .hex)
        case "bytea": return ("encode(\(c), 'hex')", .hex)
        default:
            if type.hasPrefix("numeric(") { return (c, .text) }
            if type.hasSuffix("[]") { return ("to_jsonb(\(c))", .text) }
            return nil
        }
    }

    /// Streams the table in chain order (one index scan; nothing but the rows' values is computed by the server)
    /// and recomputes every link here: each row's SHA-256 over its encoding, its link to the row before, its
    /// position.
    private func check(
        _ table: ChainTable, accountIds: Set<Int>?, from: [ChainKey: Int64], since: Date?, names: [Int: String],
        into result: inout Result
    ) throws {
        var transports: [Transport] = [.micros]  // chained_at
        var selects = [
            "r.chain_account", "r.chain_pos", "encode(r.prev_hash, 'hex')", "encode(r.row_hash, 'hex')", "encode(r.col_digest, 'hex')",
            "(extract(epoch FROM r.chained_at) * 1000000)::bigint",
        ]
        for column in table.columns {
            guard let t = Self.transport(column.name, type: column.type) else {
                throw ChainError.unknownColumnType(chain: table.chain, column: column.name, type: column.type)
            }
            selects.append(t.sql)
            transports.append(t.transport)
        }
        selects += table.keyColumns.map { "r.\(PGQuote.identifier($0))::text" }
        var conditions: [String] = []
        if let accountIds {
            conditions.append("r.chain_account IN (\(([-1] + accountIds.sorted()).map(String.init).joined(separator: ", ")))")
        }
        if let since { conditions.append("(r.chained_at IS NULL OR r.chained_at >= '\(PGTimestamp.format(since))'::timestamptz)") }
        let starts = from.filter { $0.key.chain == table.chain }
        if !starts.isEmpty {
            let pairs = starts.map { "(\($0.key.accountId), \($0.value))" }.joined(separator: ", ")
            conditions.append(
                "(r.chain_pos IS NULL OR r.chain_pos < 1 OR r.chain_pos >= coalesce((SELECT f.p FROM (VALUES \(pairs)) f(a, p) WHERE f.a = r.chain_account), 1))"
            )
        }
        let query = """
            SELECT \(selects.joined(separator: ", ")) FROM audit.\(PGQuote.identifier(table.relation)) r
            \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "))
            ORDER BY r.chain_account, r.chain_pos
            """
        var recorded: [Int: Int64] = [:]
        for row in try db.query("SELECT account_id, position FROM audit.chain_heads WHERE chain = $1", [table.chain]).rows {
            recorded[try row.decode(0, as: Int.self)] = try row.decode(1, as: Int64.self)
        }
        let chainField = Self.field(Array(table.chain.utf8))
        let keyOffset = 6 + table.columns.count
        let zero = [UInt8](repeating: 0, count: 32)
        var previous: (account: Int, position: Int64, hash: [UInt8])? = nil
        var spans: [CopySpan] = []
        // prev_hash (32 bytes) then the encoding: hashed in one call, the buffer reused for every row.
        var message: [UInt8] = []
        message.reserveCapacity(8192)
        var scratch: [UInt8] = []
        func finishChain() {
            guard let previous else { return }
            let key = ChainKey(chain: table.chain, accountId: previous.account)
            result.tails[key] = Tail(key: key, position: previous.position, hash: Self.hex(previous.hash), rows: result.rowsInChain)
        }
        result.rowsInChain = 0
        try db.copyOut(query) { line in
            Self.spans(line, into: &spans)
            let accountId = Int(Self.integer(line, spans[0]) ?? 0)
            let account = names[accountId]
            func rowKey() -> [String: String] {
                var key: [String: String] = [:]
                for (i, k) in table.keyColumns.enumerated() {
                    key[k] = Self.bytes(line, spans[keyOffset + i], &scratch).map { String(decoding: $0, as: UTF8.self) } ?? "NULL"
                }
                return key
            }
            func named(_ key: [String: String]) -> String {
                "\(table.chain) row \(Self.describe(key))\(account.map { " of account \($0)" } ?? "")"
            }
            func problem(_ kind: ChainProblem.Kind, _ position: Int64?, _ detail: (String) -> String, columns: [String] = []) {
                let key = rowKey()
                result.problems.append(
                    ChainProblem(
                        kind: kind, table: table.chain, accountId: accountId, account: account, position: position, key: key,
                        columns: columns, detail: detail(named(key))))
            }
            guard let position = Self.integer(line, spans[1]) else {
                problem(.rowInsertedOutOfBand, nil) { "\($0) has no chain link: it was inserted with the chain triggers switched off" }
                return
            }
            guard position >= 1 else {
                problem(.rowInsertedOutOfBand, position) {
                    "\($0) lies at chain position \(position), outside every chain (positions start at 1): it was inserted with the triggers switched off"
                }
                return
            }
            if previous?.account != accountId {
                finishChain()
                previous = nil
                result.rowsInChain = 0
            }
            result.rowsInChain += 1
            result.rowsChecked += 1
            let prevHash = Self.bytes(line, spans[2], &scratch).flatMap(Self.unhex) ?? []
            let rowHash = Self.bytes(line, spans[3], &scratch).flatMap(Self.unhex) ?? []
            // The encoding (v1): version, chain, account, position, chain time, then the columns.
            message.removeAll(keepingCapacity: true)
            message += prevHash
            message.append(0)
            message.append(0)
            message.append(0)
            message.append(1)
            message += chainField
            Self.appendField(line, spans[0], .text, to: &message, &scratch)
            Self.appendField(line, spans[1], .text, to: &message, &scratch)
            for (i, transport) in transports.enumerated() {
                Self.appendField(line, spans[5 + i], transport, to: &message, &scratch)
            }
            let recomputed = Self.sha256(message)
            let startPosition = starts[ChainKey(chain: table.chain, accountId: accountId)] ?? (since == nil ? 1 : position)
            let expected = previous.map { $0.position + 1 } ?? startPosition
            let badHash = prevHash.count != 32 || recomputed != rowHash
            let badLink = previous.map { prevHash != $0.hash } ?? (position == 1 && prevHash != zero)
            if position < expected {
                problem(.rowInsertedOutOfBand, position) { "\($0) claims chain position \(position), which another row already holds" }
            } else if position > expected {
                let gap = expected == position - 1 ? "position \(expected) is" : "positions \(expected)-\(position - 1) are"
                let before = previous.map { "after position \($0.position)" } ?? "at the start of the chain"
                problem(.rowDeleted, position) {
                    "\(table.chain)\(account.map { " of account \($0)" } ?? ""): \(gap) missing \(before), before \($0) (position \(position)): rows were deleted"
                }
            }
            if position > recorded[accountId, default: 0] {
                problem(.rowInsertedOutOfBand, position) {
                    "\($0) (position \(position)) lies beyond the chain's last link as the chain triggers recorded it (position \(recorded[accountId, default: 0])): it was inserted with the triggers switched off"
                }
            } else if badHash && badLink {
                problem(.rowInsertedOutOfBand, position) {
                    "\($0) (position \(position)) neither hashes to its link nor links to position \(position - 1): a forged row"
                }
            } else if badHash {
                var columnFields: [[UInt8]] = []
                for (i, transport) in transports.enumerated().dropFirst() {
                    var f: [UInt8] = []
                    Self.appendField(line, spans[5 + i], transport, to: &f, &scratch)
                    columnFields.append(f)
                }
                let stored = Self.bytes(line, spans[4], &scratch)
                let columns = Self.changedColumns(table, stored: stored, fields: columnFields)
                let what = columns.isEmpty ? "its content changed" : "changed: \(columns.joined(separator: ", "))"
                problem(.rowChanged, position, { "\($0) (chain position \(position)) \(what) after it was chained" }, columns: columns)
            } else if badLink {
                problem(.linkBroken, position) {
                    "\($0) (position \(position)) no longer links to position \(position - 1): the row before it was replaced, with a recomputed hash"
                }
            }
            previous = (accountId, position, rowHash)
        }
        finishChain()
    }

    /// One field of a COPY text line: where it is, whether it is NULL, whether it holds escapes.
    struct CopySpan {
        var start: Int
        var end: Int
        var isNull: Bool
        var escaped: Bool
    }

    /// Finds the fields of a COPY text-format line (tab-separated, `\N` for NULL, backslash escapes).
    static func spans(_ line: UnsafeBufferPointer<UInt8>, into spans: inout [CopySpan]) {
        spans.removeAll(keepingCapacity: true)
        var start = 0
        var escaped = false
        var i = 0
        while i < line.count {
            let c = line[i]
            if c == 0x09 {
                spans.append(
                    CopySpan(
                        start: start, end: i, isNull: i - start == 2 && line[start] == 0x5C && line[start + 1] == 0x4E, escaped: escaped))
                start = i + 1
                escaped = false
            } else if c == 0x5C {
                escaped = true
                i += 1
            }
            i += 1
        }
        spans.append(
            CopySpan(
                start: start, end: line.count, isNull: line.count - start == 2 && line[start] == 0x5C && line[start + 1] == 0x4E,
                escaped: escaped))
    }

    /// A field's bytes with COPY's escapes undone (nil for NULL).
    static func bytes(_ line: UnsafeBufferPointer<UInt8>, _ span: CopySpan, _ scratch: inout [UInt8]) -> [UInt8]? {
        if span.isNull { return nil }
        if !span.escaped { return Array(line[span.start..<span.end]) }
        scratch.removeAll(keepingCapacity: true)
        var i = span.start
        while i < span.end {
            var c = line[i]
            if c == 0x5C, i + 1 < span.end {
                i += 1
                switch line[i] {
                case UInt8(ascii: "n"): c = 0x0A
                case UInt8(ascii: "r"): c = 0x0D
                case UInt8(ascii: "t"): c = 0x09
                case UInt8(ascii: "b"): c = 0x08
                case UInt8(ascii: "f"): c = 0x0C
                case UInt8(ascii: "v"): c = 0x0B
                default: c = line[i]
                }
            }
            scratch.append(c)
            i += 1
        }
        return scratch
    }

    /// A decimal integer field (no escapes possible).
    static func integer(_ line: UnsafeBufferPointer<UInt8>, _ span: CopySpan) -> Int64? {
        guard !span.isNull, span.end > span.start else { return nil }
        var i = span.start
        var negative = false
        if line[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        var v: Int64 = 0
        while i < span.end {
            let d = line[i] &- 0x30
            guard d < 10 else { return nil }
            v = v &* 10 &+ Int64(d)
            i += 1
        }
        return negative ? -v : v
    }

    /// Appends a field of encoding v1 (length + bytes, or FF FF FF FF) for a value that travelled as `transport`.
    static func appendField(
        _ line: UnsafeBufferPointer<UInt8>, _ span: CopySpan, _ transport: Transport, to out: inout [UInt8], _ scratch: inout [UInt8]
    ) {
        // Byte by byte: an array literal here would allocate for every field of every row.
        func length(_ n: Int) {
            let u = UInt32(truncatingIfNeeded: n)
            out.append(UInt8(u >> 24))
            out.append(UInt8((u >> 16) & 0xFF))
            out.append(UInt8((u >> 8) & 0xFF))
            out.append(UInt8(u & 0xFF))
        }
        if span.isNull {
            length(-1)
            return
        }
        switch transport {
        case .text:
            if span.escaped, let b = bytes(line, span, &scratch) {
                length(b.count)
                out += b
            } else {
                length(span.end - span.start)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: line[span.start..<span.end]))
            }
        case .hex:
            let b = unhex(Array(line[span.start..<span.end])) ?? []
            length(b.count)
            out += b
        case .micros:
            let u = UInt64(bitPattern: integer(line, span) ?? 0)
            length(8)
            for k in 0..<8 { out.append(UInt8((u >> (8 * UInt64(7 - k))) & 0xFF)) }
        }
    }

    /// The columns whose 4-byte digest no longer matches `col_digest` (none when that was rewritten too).
    static func changedColumns(_ table: ChainTable, stored: [UInt8]?, fields: [[UInt8]]) -> [String] {
        guard let stored, let digest = unhex(stored), digest.count == 4 * fields.count else { return [] }
        var changed: [String] = []
        for (i, f) in fields.enumerated() where Array(sha256(f).prefix(4)) != Array(digest[(4 * i)..<(4 * i + 4)]) {
            changed.append(table.columns[i].name)
        }
        return changed
    }

    /// A field of encoding v1: 4-byte big-endian length and the bytes, or FF FF FF FF for NULL.
    static func field(_ bytes: [UInt8]?) -> [UInt8] {
        guard let bytes else { return [0xFF, 0xFF, 0xFF, 0xFF] }
        let n = UInt32(bytes.count)
        return [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + bytes
    }

    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        bytes.withUnsafeBufferPointer { p in _ = SHA256(p.baseAddress, p.count, &digest) }
        return digest
    }

    static func unhex(_ text: [UInt8]) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(text.count / 2)
        var i = 0
        while i < text.count {
            guard let hi = nibble(text[i]), let lo = nibble(text[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func describe(_ key: [String: String]) -> String {
        // Kraken ids first (the names users search for), then version / id.
        func rank(_ name: String) -> Int { name == "version" || name == "id" ? 1 : 0 }
        let names = key.keys.sorted { (rank($0), $0) < (rank($1), $1) }
        return names.map { "\($0)=\(key[$0] ?? "")" }.joined(separator: " ")
    }
}
