import CLibPQ
import Dispatch
import Foundation
import Logging

/// One PostgreSQL connection over libpq.
///
/// Connection parameters come from a URL/conninfo string or, when none is given, from libpq's own defaults: the
/// `PG*` environment variables, `~/.pgpass`, service files and `sslmode` are honoured because libpq does it.
/// Every statement is parameterised (`$1`, `$2`, ... with binds sent separately, never concatenated).
///
/// The synchronous methods block the calling thread; async code should use ``run(_:)``, which executes on
/// the connection's own serial queue so blocking waits (advisory locks, long COPYs) never occupy Swift's
/// cooperative thread pool. A connection is used by one caller at a time (an internal lock enforces it).
public final class PGConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    private let lock = NSLock()
    private let queue: DispatchQueue
    private let logger: Logger
    private var transactionDepth = 0

    /// Connects. `url` may be a `postgresql://` URL or a `key=value` conninfo string; nil or empty uses libpq's
    /// environment defaults.
    public init(url: String? = nil, applicationName: String = "kraken-audit", logger: Logger) throws(PGError) {
        self.logger = logger
        self.queue = DispatchQueue(label: "kraken-audit.pg")
        let keys = ["dbname", "application_name", "options"]
        // `options` fixes the session time zone and date style so timestamps decode deterministically, and pins
        // `search_path` (it overrides the role's, the database's and PGOPTIONS'): objects another database user
        // creates in `public` or a schema named after a role can never shadow a function or table the tool and
        // its rules use (CVE-2018-1058). pg_temp last, so a temporary table cannot shadow one either.
        let values = [
            url ?? "", applicationName, "-c TimeZone=UTC -c DateStyle=ISO,YMD -c client_encoding=UTF8 \(Self.pinnedSearchPathOption)",
        ]
        let conn: OpaquePointer? = withCStringArray(keys) { k in
            withCStringArray(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let conn else { throw PGError(kind: .connection, message: "out of memory") }
        if PQstatus(conn) != CONNECTION_OK {
            let message = PGError.oneLine(String(cString: PQerrorMessage(conn)))
            PQfinish(conn)
            throw PGError(kind: .connection, message: Self.redact(message))
        }
        handle = conn
        PQsetNoticeProcessor(conn, { _, _ in }, nil)  // NOTICEs (e.g. "schema exists, skipping") are not errors
    }

    /// The session's `search_path`: the catalog, then the tool's schema, then temporary tables.
    public static let pinnedSearchPath = "pg_catalog, audit, pg_temp"
    static let pinnedSearchPathOption = "-c search_path=pg_catalog,audit,pg_temp"

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Closes the connection (also done on deinit).
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// Runs `body` with this connection on its own thread (never on the cooperative pool).
    public func run<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self) })
            }
        }
    }

    // The statement methods take the caller's `#fileID` and `#line` as default arguments: a failure's
    // `debugDescription` names the statement and where it was issued (``PGError/issued(_:file:line:)``).

    /// Executes one parameterised statement and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ binds: [(any PGEncodable)?] = [], file: String = #fileID, line: Int = #line) throws(PGError)
        -> PGResult
    {
        lock.lock()
        defer { lock.unlock() }
        do {
            let conn = try liveHandle()
            let texts: [String?] = binds.map { $0?.pgText }
            let result: OpaquePointer? = withOptionalCStringArray(texts) { values in
                PQexecParams(conn, sql, Int32(texts.count), nil, values, nil, nil, 0)
            }
            return try check(result, conn: conn, kind: .query)
        } catch {
            throw error.issued(sql, file: file, line: line)
        }
    }

    /// Executes one parameterised statement and returns the number of rows it affected.
    @discardableResult
    public func execute(_ sql: String, _ binds: [(any PGEncodable)?] = [], file: String = #fileID, line: Int = #line) throws(PGError) -> Int
    {
        try query(sql, binds, file: file, line: line).affectedRows
    }

    /// Executes one parameterised statement and, while the server runs it, `meanwhile` on this thread (client work:
    /// the two cores then work at once). `meanwhile` must not use this connection: its lock is held, so that would
    /// deadlock. Returns the statement's affected rows
    /// once both are done; if either fails, the statement's result is still read before the error is thrown.
    @discardableResult
    public func execute(
        _ sql: String, _ binds: [(any PGEncodable)?] = [], file: String = #fileID, line: Int = #line, meanwhile: () throws -> Void
    ) throws -> Int {
        lock.lock()
        defer { lock.unlock() }
        let conn: OpaquePointer
        do { conn = try liveHandle() } catch { throw error.issued(sql, file: file, line: line) }
        let texts: [String?] = binds.map { $0?.pgText }
        let sent = withOptionalCStringArray(texts) { values in
            PQsendQueryParams(conn, sql, Int32(texts.count), nil, values, nil, nil, 0)
        }
        guard sent == 1 else {
            let lost = PQstatus(conn) != CONNECTION_OK
            throw PGError(kind: lost ? .connectionLost : .query, message: PGError.oneLine(String(cString: PQerrorMessage(conn))))
                .issued(sql, file: file, line: line)
        }
        var clientError: (any Error)? = nil
        do { try meanwhile() } catch { clientError = error }
        // Every result must be read before the connection takes the next command.
        var outcome: Result<Int, PGError> = .failure(PGError(kind: .query, message: "the statement returned no result"))
        var first = true
        while let result = PQgetResult(conn) {
            if first {
                first = false
                do { outcome = .success(try check(result, conn: conn, kind: .query).affectedRows) } catch { outcome = .failure(error) }
            } else {
                PQclear(result)
            }
        }
        if let clientError { throw clientError }
        do { return try outcome.get() } catch { throw error.issued(sql, file: file, line: line) }
    }

    /// Executes a script of several statements without parameters (migrations). Never pass user input here.
    public func executeScript(_ sql: String, file: String = #fileID, line: Int = #line) throws(PGError) {
        lock.lock()
        defer { lock.unlock() }
        do {
            let conn = try liveHandle()
            _ = try check(PQexec(conn, sql), conn: conn, kind: .query)
        } catch {
            throw error.issued(sql, file: file, line: line)
        }
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws. Nested calls use
    /// savepoints.
    @discardableResult
    public func transaction<T>(file: String = #fileID, line: Int = #line, _ body: () throws -> T) throws -> T {
        let depth = transactionDepth
        try executeScript(depth == 0 ? "BEGIN" : "SAVEPOINT ka_sp_\(depth)", file: file, line: line)
        transactionDepth += 1
        do {
            let value = try body()
            transactionDepth -= 1
            try executeScript(depth == 0 ? "COMMIT" : "RELEASE SAVEPOINT ka_sp_\(depth)", file: file, line: line)
            return value
        } catch {
            transactionDepth -= 1
            try? executeScript(depth == 0 ? "ROLLBACK" : "ROLLBACK TO SAVEPOINT ka_sp_\(depth)", file: file, line: line)
            throw error
        }
    }

    /// Streams rows into `COPY <target> FROM STDIN` (text format). `target` is a table name with an optional
    /// column list, written by the caller's code, never user input. Values are escaped here; nil is `\N`.
    /// Returns the number of rows copied. Errors (bad data, constraint violations) carry SQLSTATE.
    @discardableResult
    public func copyIn<S: Sequence>(_ target: String, rows: S, file: String = #fileID, line: Int = #line) throws(PGError) -> Int
    where S.Element == [(any PGEncodable)?] {
        lock.lock()
        defer { lock.unlock() }
        do {
            return try copyInLocked(target, rows: rows)
        } catch {
            throw error.issued("COPY \(target) FROM STDIN", file: file, line: line)
        }
    }

    private func copyInLocked<S: Sequence>(_ target: String, rows: S) throws(PGError) -> Int
    where S.Element == [(any PGEncodable)?] {
        let conn = try liveHandle()
        let start = PQexec(conn, "COPY \(target) FROM STDIN")
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            _ = try check(start, conn: conn, kind: .copy)
            throw PGError(kind: .copy, message: "COPY did not start")
        }
        PQclear(start)
        var buffer = [UInt8]()
        buffer.reserveCapacity(1 << 16)
        var count = 0
        var failure: PGError? = nil
        func flush() -> Bool {
            if buffer.isEmpty { return true }
            let ok = buffer.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { PQputCopyData(conn, $0.baseAddress, Int32($0.count)) }
            }
            buffer.removeAll(keepingCapacity: true)
            return ok == 1
        }
        for row in rows {
            for (i, value) in row.enumerated() {
                if i > 0 { buffer.append(0x09) }
                if let value { Self.appendCopyEscaped(value.pgText, to: &buffer) } else { buffer.append(contentsOf: [0x5C, 0x4E]) }
            }
            buffer.append(0x0A)
            count += 1
            if buffer.count >= 1 << 16, !flush() {
                failure = PGError(kind: .copy, message: PGError.oneLine(String(cString: PQerrorMessage(conn))))
                break
            }
        }
        if failure == nil, !flush() {
            failure = PGError(kind: .copy, message: PGError.oneLine(String(cString: PQerrorMessage(conn))))
        }
        PQputCopyEnd(conn, failure == nil ? nil : "client error")
        // The server reports COPY errors only now: read every result until NULL.
        var serverError: PGError? = nil
        while let result = PQgetResult(conn) {
            if PQresultStatus(result) != PGRES_COMMAND_OK, serverError == nil {
                serverError = Self.error(from: result, conn: conn, kind: .copy)
            }
            PQclear(result)
        }
        if let serverError { throw serverError }
        if let failure { throw failure }
        return count
    }

    /// Runs `COPY (query) TO STDOUT` (text format) and hands each data row, as the raw bytes of one line without
    /// its newline, to `row`: a large result streams through constant memory. `query` is the caller's code (COPY
    /// takes no bind parameters: only numbers and formatted timestamps may be put into it). If `row` throws, the
    /// rest of the output is read and dropped, and the error is rethrown.
    public func copyOut(
        _ query: String, file: String = #fileID, line: Int = #line, row: (UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        lock.lock()
        defer { lock.unlock() }
        let sql = "COPY (\(query)) TO STDOUT"
        let conn: OpaquePointer
        do { conn = try liveHandle() } catch { throw error.issued(sql, file: file, line: line) }
        let start = PQexec(conn, sql)
        guard PQresultStatus(start) == PGRES_COPY_OUT else {
            do { _ = try check(start, conn: conn, kind: .copy) } catch { throw error.issued(sql, file: file, line: line) }
            throw PGError(kind: .copy, message: "COPY did not start").issued(sql, file: file, line: line)
        }
        PQclear(start)
        var failure: (any Error)? = nil
        while true {
            var buffer: UnsafeMutablePointer<CChar>? = nil
            let n = PQgetCopyData(conn, &buffer, 0)
            if n < 0 { break }  // -1: done, -2: error (reported by the result below)
            guard let buffer else { continue }
            if failure == nil {
                let length = n > 0 && buffer[Int(n) - 1] == 0x0A ? Int(n) - 1 : Int(n)
                buffer.withMemoryRebound(to: UInt8.self, capacity: Int(n)) { p in
                    do { try row(UnsafeBufferPointer(start: p, count: length)) } catch { failure = error }
                }
            }
            PQfreemem(buffer)
        }
        var serverError: PGError? = nil
        while let result = PQgetResult(conn) {
            if PQresultStatus(result) != PGRES_COMMAND_OK, serverError == nil {
                serverError = Self.error(from: result, conn: conn, kind: .copy)
            }
            PQclear(result)
        }
        if let serverError { throw serverError.issued(sql, file: file, line: line) }
        if let failure { throw failure }
    }

    /// Streams raw bytes into a `COPY ... FROM STDIN` command written by the caller's code (never user input),
    /// e.g. `COPY t (a, b) FROM STDIN WITH (FORMAT csv)` fed with a CSV file's bytes: PostgreSQL parses them.
    /// `produce` gets a `send` function and calls it with the chunks in order. If `produce` throws, the COPY is
    /// aborted and its error is rethrown; otherwise the server's verdict (SQLSTATE `22P02` bad data, ...) is.
    /// Returns the number of rows the server copied.
    @discardableResult
    public func copyInRaw(
        _ command: String, file: String = #fileID, line: Int = #line,
        produce: (_ send: (UnsafeRawBufferPointer) throws(PGError) -> Void) throws -> Void
    ) throws -> Int {
        lock.lock()
        defer { lock.unlock() }
        do {
            return try copyInRawLocked(command, produce: produce)
        } catch let error as PGError {
            throw error.issued(command, file: file, line: line)
        }
    }

    private func copyInRawLocked(_ command: String, produce: (_ send: (UnsafeRawBufferPointer) throws(PGError) -> Void) throws -> Void)
        throws -> Int
    {
        let conn = try liveHandle()
        let start = PQexec(conn, command)
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            _ = try check(start, conn: conn, kind: .copy)
            throw PGError(kind: .copy, message: "COPY did not start")
        }
        PQclear(start)
        func send(_ chunk: UnsafeRawBufferPointer) throws(PGError) {
            guard let base = chunk.baseAddress, chunk.count > 0 else { return }
            var offset = 0
            while offset < chunk.count {
                let n = min(chunk.count - offset, 1 << 20)
                let ok = PQputCopyData(conn, base.advanced(by: offset).assumingMemoryBound(to: CChar.self), Int32(n))
                guard ok == 1 else { throw PGError(kind: .copy, message: PGError.oneLine(String(cString: PQerrorMessage(conn)))) }
                offset += n
            }
        }
        var producerError: (any Error)? = nil
        do { try produce(send) } catch { producerError = error }
        PQputCopyEnd(conn, producerError == nil ? nil : "aborted by the client")
        var serverError: PGError? = nil
        var copied = 0
        while let result = PQgetResult(conn) {
            if PQresultStatus(result) != PGRES_COMMAND_OK {
                if serverError == nil { serverError = Self.error(from: result, conn: conn, kind: .copy) }
            } else {
                copied = Int(String(cString: PQcmdTuples(result))) ?? 0
            }
            PQclear(result)
        }
        if let producerError { throw producerError }
        if let serverError { throw serverError }
        return copied
    }

    /// Takes a session-level advisory lock, waiting for it.
    public func advisoryLock(_ key: Int64, file: String = #fileID, line: Int = #line) throws(PGError) {
        try execute("SELECT pg_advisory_lock($1)", [key], file: file, line: line)
    }

    /// Tries to take a session-level advisory lock without waiting; true if taken.
    public func tryAdvisoryLock(_ key: Int64, file: String = #fileID, line: Int = #line) throws(PGError) -> Bool {
        try query("SELECT pg_try_advisory_lock($1)", [key], file: file, line: line).rows.first?.decode(0, as: Bool.self) ?? false
    }

    /// Releases a session-level advisory lock; true if it was held.
    @discardableResult
    public func advisoryUnlock(_ key: Int64, file: String = #fileID, line: Int = #line) throws(PGError) -> Bool {
        try query("SELECT pg_advisory_unlock($1)", [key], file: file, line: line).rows.first?.decode(0, as: Bool.self) ?? false
    }

    /// Whether the connection is still usable.
    public var isAlive: Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Whether the connection is alive and outside any transaction: the state a pool may hand it on in.
    public var isReusable: Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        return PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    /// The server's version number (e.g. 150018).
    public var serverVersion: Int {
        lock.lock()
        defer { lock.unlock() }
        guard let handle else { return 0 }
        return Int(PQserverVersion(handle))
    }

    // MARK: - internals

    private func liveHandle() throws(PGError) -> OpaquePointer {
        guard let handle else { throw PGError(kind: .connectionLost, message: "the connection is closed") }
        if PQstatus(handle) != CONNECTION_OK {
            throw PGError(kind: .connectionLost, message: PGError.oneLine(String(cString: PQerrorMessage(handle))))
        }
        return handle
    }

    private func check(_ result: OpaquePointer?, conn: OpaquePointer, kind: PGError.Kind) throws(PGError) -> PGResult {
        guard let result else {
            let lost = PQstatus(conn) != CONNECTION_OK
            throw PGError(
                kind: lost ? .connectionLost : kind, message: PGError.oneLine(String(cString: PQerrorMessage(conn))))
        }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return PGResult(consuming: result)
        default:
            let error = Self.error(from: result, conn: conn, kind: kind)
            PQclear(result)
            throw error
        }
    }

    private static func error(from result: OpaquePointer, conn: OpaquePointer, kind: PGError.Kind) -> PGError {
        func field(_ code: Int32) -> String? {
            guard let p = PQresultErrorField(result, code) else { return nil }
            return String(cString: p)
        }
        let state = field(Int32(kaPG_DIAG_SQLSTATE))
        let message = field(Int32(kaPG_DIAG_MESSAGE_PRIMARY)) ?? PGError.oneLine(String(cString: PQerrorMessage(conn)))
        let lost = PQstatus(conn) != CONNECTION_OK
        return PGError(
            kind: lost ? .connectionLost : kind, sqlState: state, message: PGError.oneLine(message),
            detail: field(Int32(kaPG_DIAG_MESSAGE_DETAIL)).map(PGError.oneLine),
            hint: field(Int32(kaPG_DIAG_MESSAGE_HINT)).map(PGError.oneLine))
    }

    static func appendCopyEscaped(_ text: String, to buffer: inout [UInt8]) {
        for b in text.utf8 {
            switch b {
            case 0x5C: buffer.append(contentsOf: [0x5C, 0x5C])
            case 0x09: buffer.append(contentsOf: [0x5C, 0x74])
            case 0x0A: buffer.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: buffer.append(contentsOf: [0x5C, 0x72])
            default: buffer.append(b)
            }
        }
    }

    /// Removes anything that looks like a password from a libpq message (libpq does not echo passwords, but
    /// a conninfo fragment could appear in a parse error).
    static func redact(_ message: String) -> String {
        var m = message
        if let r = m.range(of: #"password\s*=\s*\S+"#, options: [.regularExpression, .caseInsensitive]) {
            m.replaceSubrange(r, with: "password=<redacted>")
        }
        if let r = m.range(of: #"://[^:/@\s]+:[^@\s]+@"#, options: .regularExpression) {
            m.replaceSubrange(r, with: "://<user>:<redacted>@")
        }
        return m
    }
}

/// Rows of a result, fully read into memory (text format).
public struct PGResult: Sendable {
    /// Column names in order.
    public let columns: [String]
    /// Row values; nil is SQL NULL.
    public let rows: [PGRow]
    /// Rows affected by INSERT/UPDATE/DELETE (0 for others).
    public let affectedRows: Int

    init(consuming result: OpaquePointer) {
        defer { PQclear(result) }
        let nFields = Int(PQnfields(result))
        let nRows = Int(PQntuples(result))
        var names: [String] = []
        for c in 0..<nFields { names.append(String(cString: PQfname(result, Int32(c)))) }
        var index: [String: Int] = [:]
        for (i, n) in names.enumerated() where index[n] == nil { index[n] = i }
        var rows: [PGRow] = []
        rows.reserveCapacity(nRows)
        for r in 0..<nRows {
            var values: [String?] = []
            values.reserveCapacity(nFields)
            for c in 0..<nFields {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                }
            }
            rows.append(PGRow(values: values, columnIndex: index))
        }
        columns = names
        self.rows = rows
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
    }
}

/// One result row with typed access by position or column name.
public struct PGRow: Sendable {
    public let values: [String?]
    let columnIndex: [String: Int]

    /// Decodes column `index`; throws for NULL (use ``decodeOptional(_:as:)``) or a bad value.
    public func decode<T: PGDecodable>(_ index: Int, as type: T.Type = T.self) throws(PGError) -> T {
        guard index < values.count else { throw PGError(kind: .decode, message: "no column \(index)") }
        guard let text = values[index] else { throw PGError(kind: .decode, message: "column \(index) is NULL") }
        return try T(pgText: text)
    }

    /// Decodes column `index`, nil for NULL.
    public func decodeOptional<T: PGDecodable>(_ index: Int, as type: T.Type = T.self) throws(PGError) -> T? {
        guard index < values.count else { throw PGError(kind: .decode, message: "no column \(index)") }
        guard let text = values[index] else { return nil }
        return try T(pgText: text)
    }

    /// Decodes column `name`.
    public func decode<T: PGDecodable>(_ name: String, as type: T.Type = T.self) throws(PGError) -> T {
        guard let i = columnIndex[name] else { throw PGError(kind: .decode, message: "no column '\(name)'") }
        return try decode(i, as: type)
    }

    /// Decodes column `name`, nil for NULL.
    public func decodeOptional<T: PGDecodable>(_ name: String, as type: T.Type = T.self) throws(PGError) -> T? {
        guard let i = columnIndex[name] else { throw PGError(kind: .decode, message: "no column '\(name)'") }
        return try decodeOptional(i, as: type)
    }
}

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
    }
}

private func withOptionalCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    if strings.isEmpty { return body(nil) }
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
    }
}
