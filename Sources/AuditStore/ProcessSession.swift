import Foundation
import Logging

/// One process's own database session (issue 18): a dedicated connection, outside any pool, whose life is the
/// process's. It holds a session advisory lock on ``holder`` for as long as the process lives, so others can tell
/// whether a lease this process took (a key's call lease in `audit.api_keys`) still has an owner; and it holds the
/// account leases, session advisory locks on (``accountLeaseSpace``, account id): when the process dies, the server
/// ends the session and every lease with it, and another process can take the accounts over at once.
public final class ProcessSession: PGRunner, Sendable {
    /// The first key of every account lease ("ka" 0001), in the two-integer advisory lock space.
    public static let accountLeaseSpace: Int32 = 0x6B61_0001
    /// This process's identity in leases: the bigint key of the advisory lock the session holds.
    public let holder: Int64
    let connection: PGConnection

    /// Connects (libpq's defaults when `url` is nil) and takes the holder lock.
    public init(url: String?, logger: Logger) throws(PGError) {
        connection = try PGConnection(url: url, applicationName: "kraken-audit session", logger: logger)
        // Random, positive; the tool's fixed lock keys all start with "krak" (0x6B72616B), which this may not.
        var key: Int64
        repeat {
            key = Int64.random(in: 1...Int64.max)
        } while key >> 32 == 0x6B72_616B
        holder = key
        do {
            try connection.advisoryLock(key)
        } catch {
            connection.close()
            throw error
        }
    }

    public func run<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        try await connection.run(body)
    }

    /// Takes the lease on an account unless another process holds it; true when this process now holds it.
    public func tryLeaseAccount(_ accountId: Int) async throws -> Bool {
        try await connection.run { db in
            try db.query("SELECT pg_try_advisory_lock($1::int4, $2::int4)", [Int(Self.accountLeaseSpace), accountId]).rows[0]
                .decode(0, as: Bool.self)
        }
    }

    /// Returns an account lease taken by ``tryLeaseAccount(_:)``.
    public func releaseAccount(_ accountId: Int) async {
        _ = try? await connection.run { db in
            try db.query("SELECT pg_advisory_unlock($1::int4, $2::int4)", [Int(Self.accountLeaseSpace), accountId])
        }
    }

    /// Ends the session: every lease of this process is released.
    public func close() {
        connection.close()
    }
}
