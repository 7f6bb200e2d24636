import Foundation

/// Nonces per API key kept in `audit.api_keys.last_nonce`, taken atomically so they never go backwards: not
/// across restarts, not when the clock steps back, not with several processes sharing one key
/// (../shared/kraken-api.md §1.4). Nonces are Unix milliseconds, or last + 1 when that is not larger.
public struct NonceStore: Sendable {
    /// Registers (or finds) the key and returns its id. The fingerprint, never the secret, is stored.
    @discardableResult
    public static func register(
        on db: PGConnection, account: String, keyName: String, fingerprint: String, keyCreated: String? = nil
    ) throws(PGError) -> Int {
        let accountId = try AccountStore.ensure(on: db, name: account)
        let row = try db.query(
            """
            INSERT INTO audit.api_keys (account_id, name, key_fingerprint, key_created)
            VALUES ($1, $2, $3, $4::date)
            ON CONFLICT (key_fingerprint) DO UPDATE
               SET name = EXCLUDED.name,
                   key_created = COALESCE(EXCLUDED.key_created, audit.api_keys.key_created)
            RETURNING id, account_id
            """, [accountId, keyName, fingerprint, keyCreated])
        guard let r = row.rows.first else { throw PGError(kind: .query, message: "api key registration returned nothing") }
        let owner = try r.decode(1, as: Int.self)
        if owner != accountId {
            throw PGError(
                kind: .query, message: "API key \(fingerprint) is already registered for another account",
                hint: "give each account its own API key")
        }
        return try r.decode(0, as: Int.self)
    }

    /// Takes the next nonce for the key: `GREATEST(last_nonce + 1, nowMillis)`, in one atomic UPDATE.
    /// - Parameter nowMillis: the current time in Unix milliseconds (injectable so tests can move the clock).
    public static func next(on db: PGConnection, fingerprint: String, nowMillis: Int64) throws(PGError) -> UInt64 {
        let result = try db.query(
            """
            UPDATE audit.api_keys
               SET last_nonce = GREATEST(last_nonce + 1, $2::bigint), last_used_at = now()
             WHERE key_fingerprint = $1
            RETURNING last_nonce
            """, [fingerprint, nowMillis])
        guard let row = result.rows.first else {
            throw PGError(
                kind: .query, message: "API key \(fingerprint) is not registered",
                hint: "run kraken-audit migrate/doctor, or register the key first")
        }
        return try row.decode(0, as: UInt64.self)
    }

    /// Raises the stored nonce to at least `value` (e.g. Kraken's `GetApiKeyInfo.nonce`).
    public static func raise(on db: PGConnection, fingerprint: String, to value: UInt64) throws(PGError) {
        guard value <= UInt64(Int64.max) else { return }
        try db.execute(
            "UPDATE audit.api_keys SET last_nonce = GREATEST(last_nonce, $2::bigint) WHERE key_fingerprint = $1",
            [fingerprint, Int64(value)])
    }

    /// Current Unix time in milliseconds.
    public static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}

/// Accounts by name.
public enum AccountStore {
    /// Returns the id of account `name`, creating it if needed.
    public static func ensure(on db: PGConnection, name: String) throws(PGError) -> Int {
        // DO UPDATE (not DO NOTHING) so the row comes back even when another session inserted it concurrently:
        // a CTE + SELECT would read a snapshot taken before that session committed and find nothing.
        let r = try db.query(
            "INSERT INTO audit.accounts (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            [name])
        guard let row = r.rows.first else { throw PGError(kind: .query, message: "account '\(name)' not created") }
        return try row.decode(0, as: Int.self)
    }
}
