import Foundation
import KrakenAPI

/// One simulated API key: credentials, permissions, nonce and the rate-limit counter.
struct KeyState: Sendable {
    let account: String
    let apiKey: String
    /// Base64 of 64 deterministic bytes.
    let secret: String
    let signer: RequestSigner
    var permissions: [String]
    var otp: String?
    var nonceWindow: UInt64
    let createdTime: Int64

    var highestNonce: UInt64 = 0
    /// Nonces accepted within the window below the highest (duplicates are always rejected).
    var recentNonces: Set<UInt64> = []

    var counter: Double = 0
    var counterUpdated: Double = 0
    var maxCounterEver: Double = 0
    var calls = 0
    var successfulCalls = 0
    var rateLimited = 0
    var lastUsed: Int64? = nil

    // Key restrictions as GetApiKeyInfo reports them (../shared/kraken-api.md §3.11, §7); changed through
    // /_sim/keys (ControlKeys.swift). Reported, not enforced. The default allowlist (loopback) makes a default key
    // an audit key as it should be: read-only and IP-restricted.
    var ipAllowlist: [String] = ["127.0.0.1", "::1"]
    /// Unix seconds; 0 = unset (never expires / no query bound).
    var validUntil: Int64 = 0
    var queryFrom: Int64 = 0
    var queryTo: Int64 = 0
    /// Unix seconds of the last settings change; nil = shortly after creation.
    var modifiedTime: Int64? = nil
    /// Whether GetApiKeyInfo's `nonce`/`lastUsed` describe the requests before the asking one (Kraken does not
    /// document it; default: they include it, as §1.7's order updates the highest nonce before the method runs).
    var keyInfoExcludesCurrent = false
    /// Highest nonce and lastUsed as they were before the current request (for ``keyInfoExcludesCurrent``).
    var highestNonceBefore: UInt64 = 0
    var lastUsedBefore: Int64? = nil

    /// Applies the decay up to `now` (monotonic seconds).
    mutating func decay(now: Double, perSecond: Double) {
        let elapsed = max(0, now - counterUpdated)
        counter = max(0, counter - elapsed * perSecond)
        counterUpdated = now
    }

    /// Adds `cost` to the counter (every call, successful or not, rejected or not).
    mutating func charge(_ cost: Double) {
        counter += cost
        maxCounterEver = max(maxCounterEver, counter)
    }

    /// Accepts `nonce` if it is above the highest (or inside the window and unused); records it.
    mutating func accept(nonce: UInt64) -> Bool {
        if nonce > highestNonce {
            highestNonce = nonce
            if nonceWindow > 0 {
                recentNonces.insert(nonce)
                let floor = highestNonce > nonceWindow ? highestNonce - nonceWindow : 0
                if recentNonces.count > 1024 { recentNonces = recentNonces.filter { $0 >= floor } }
            }
            return true
        }
        guard nonceWindow > 0, highestNonce - nonce <= nonceWindow, !recentNonces.contains(nonce) else { return false }
        recentNonces.insert(nonce)
        return true
    }

    /// Deterministic credentials of account `index` for `seed`.
    static func credentials(seed: UInt64, account: String) -> (apiKey: String, secret: String) {
        var rng = SeededRandom(seed: seed, stream: "credentials/\(account)")
        let key = (0..<42).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let secret = (0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        return (Data(key).base64EncodedString(), Data(secret).base64EncodedString())
    }
}

/// Per presented API-Key string (known or not): consecutive failures and the lockout.
struct LockoutState: Sendable {
    var failures = 0
    var lockedUntil: Double? = nil
}
