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
}
