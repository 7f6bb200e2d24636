import AuditStore
import TestSupport
import Testing

/// Which database failures a later run can get past on its own (exit 75 for the nightly job) and which need
/// someone to change something.
@Suite struct PGErrorTests {
    @Test func classification() {
        func e(_ kind: PGError.Kind, _ state: String?) -> PGError { PGError(kind: kind, sqlState: state, message: "x") }
        #expect(e(.connection, nil).isTemporary && e(.connection, nil).isConnectionFailure)
        #expect(e(.connectionLost, nil).isConnectionFailure)
        for state in ["57P01", "57P02", "57P03", "08006", "08001"] {
            #expect(e(.query, state).isConnectionFailure, "\(state)")
            #expect(e(.query, state).isTemporary, "\(state)")
        }
        for state in ["40001", "40P01", "53100", "53300", "55P03", "57014"] {
            #expect(e(.query, state).isTemporary, "\(state)")
            #expect(!e(.query, state).isConnectionFailure, "\(state)")
        }
        for state in ["23505", "42P01", "22P02", "42501", "57P04"] {
            #expect(!e(.query, state).isTemporary, "\(state)")
        }
        #expect(!e(.decode, nil).isTemporary)
    }

    /// The server's own words: a backend terminated by an administrator (what a restart does) is temporary.
    @Test func terminatedBackendIsTemporary() throws {
        let database = try TestDatabase("pgerror")
        let victim = try database.connect()
        let admin = try database.connect()
        let pid = try victim.query("SELECT pg_backend_pid()").rows[0].decode(0, as: Int.self)
        _ = try admin.query("SELECT pg_terminate_backend($1)", [pid])
        do {
            _ = try victim.query("SELECT 1")
            Issue.record("the query on a terminated backend succeeded")
        } catch {
            #expect(error.isTemporary, "\(error) kind=\(error.kind) state=\(error.sqlState ?? "-")")
            #expect(error.isConnectionFailure)
        }
    }

    /// Issue 16 part 8: the statement and the call site are for whoever debugs (`String(reflecting:)`), never in the
    /// text a user reads; that text names the SQLSTATE's class and what to do.
    @Test func statementAndCallSiteOnlyInTheDebugDescription() throws {
        let database = try TestDatabase("pgerrortext")
        let connection = try database.connect()
        let statement = "SELECT secret_column FROM table_that_is_not_there WHERE id = $1"
        let expectedLine = #line + 2
        do {
            _ = try connection.query(statement, [42])
            Issue.record("the query succeeded")
        } catch {
            #expect(error.sqlState == "42P01")
            #expect(!error.description.contains("SELECT") && !error.description.contains("secret_column"), "\(error)")
            #expect(!error.description.contains(".swift") && !error.description.contains("PGErrorTests"), "\(error)")
            #expect(error.description.contains("42P01 (syntax error or access rule violation)"), "\(error)")
            #expect(error.description.contains("table_that_is_not_there"), "the server's message stays: \(error)")
            #expect(error.description.contains("kraken-audit migrate"), "what to do: \(error)")
            let debug = String(reflecting: error)
            #expect(debug.contains(statement), "\(debug)")
            #expect(debug.contains("AuditStoreTests/PGErrorTests.swift:\(expectedLine)"), "\(debug)")
            #expect(!debug.contains("42,") && !debug.contains("= 42"), "bind values are not kept: \(debug)")
        }
        // Statements issued through execute, executeScript and transaction name their callers too.
        let scriptLine = #line + 2
        do {
            try connection.executeScript("SELEC 1")
            Issue.record("the script succeeded")
        } catch {
            #expect(!error.description.contains("SELEC 1"), "\(error)")
            #expect(String(reflecting: error).contains("PGErrorTests.swift:\(scriptLine)"), "\(String(reflecting: error))")
        }
        let executeLine = #line + 2
        do {
            try connection.execute("INSERT INTO nowhere VALUES ($1)", ["x"])
            Issue.record("the insert succeeded")
        } catch {
            #expect(String(reflecting: error).contains("PGErrorTests.swift:\(executeLine)"), "\(String(reflecting: error))")
            #expect(String(reflecting: error).contains("INSERT INTO nowhere"))
        }
    }

    @Test func descriptionNamesTheClassAndWhatToDo() {
        let denied = PGError(
            kind: .query, sqlState: "42501", message: "permission denied for table findings", statement: "SELECT 1", file: "M/F.swift",
            line: 3)
        #expect(
            denied.description
                == "PostgreSQL error 42501 (syntax error or access rule violation): permission denied for table findings; the database role lacks a privilege: grant it, or connect as a role that has it"
        )
        #expect(!String(describing: denied).contains("F.swift"))
        #expect(String(reflecting: denied).contains("issuedAt: M/F.swift:3") && String(reflecting: denied).contains("SELECT 1"))
        let deadlock = PGError(kind: .query, sqlState: "40P01", message: "deadlock detected")
        #expect(
            deadlock.description
                == "PostgreSQL error 40P01 (transaction rollback): deadlock detected; this is temporary: a later run retries")
        let unique = PGError(kind: .query, sqlState: "23505", message: "duplicate key value", detail: "Key (id)=(1) already exists.")
        #expect(
            unique.description
                == "PostgreSQL error 23505 (integrity constraint violation): duplicate key value (detail: Key (id)=(1) already exists.)")
    }
}
