import AuditConfig
import AuditKernel
import AuditStore
import Collector
import Foundation
import Integrity
import KrakenAPI
import Logging

/// One line of the doctor's checklist.
public struct DoctorCheck: Sendable, Equatable {
    public enum Status: String, Sendable { case ok, warning, failed, skipped }
    public let status: Status
    public let subject: String
    public let detail: String
    /// What to do about a failure or warning.
    public let fix: String?

    public init(_ status: Status, _ subject: String, _ detail: String, fix: String? = nil) {
        self.status = status
        self.subject = subject
        self.detail = detail
        self.fix = fix
    }
}

/// `kraken-audit doctor`: checks everything a nightly run needs, each with a fix.
public struct Doctor: Sendable {
    /// Kraken permissions the audit needs (../shared/kraken-api.md §7).
    public static let neededPermissions = ["query-funds", "query-open-trades", "query-closed-trades", "query-ledger"]
    /// The permission `watch` needs for `GetWebSocketsToken` ("WebSocket interface"; ../shared/kraken-api.md §7). It
    /// is read-only for an audit key: the streams carry what the query permissions already show.
    public static let webSocketPermission = "create-ws-token"
    /// Permissions an audit key must not have: it could move money or trade.
    public static let dangerousPermissions = [
        "withdraw-funds", "add-withdraw-address", "update-withdraw-address", "modify-trades", "close-trades",
        "add-funds", "earn-funds",
    ]

    let environment: AuditEnvironment
    let secrets: SecretReader
    let transport: any HTTPTransport

    public init(environment: AuditEnvironment, secrets: SecretReader = SecretReader(), transport: any HTTPTransport = URLSessionTransport())
    {
        self.environment = environment
        self.secrets = secrets
        self.transport = transport
    }

    /// Runs every check, in order; never throws (each problem is a failed check).
    public func run() async -> [DoctorCheck] {
        let config = environment.config
        var checks: [DoctorCheck] = [
            DoctorCheck(.ok, "config", "\(config.path) parsed (\(config.accounts.count) account(s))")
        ]
        if config.accounts.isEmpty {
            checks.append(DoctorCheck(.failed, "config", "no [[account]] configured", fix: "add an [[account]] table (see the README)"))
        }
        var credentials: [String: KrakenCredentials] = [:]
        for account in config.accounts {
            do {
                credentials[account.name] = try environment.credentials(for: account, reader: secrets)
                checks.append(DoctorCheck(.ok, "account \(account.name)", "API key and secret readable and private"))
            } catch {
                checks.append(DoctorCheck(.failed, "account \(account.name)", "\(error)", fix: Self.fix(for: error)))
            }
        }

        var db: PGConnection? = nil
        do {
            let c = try environment.connect()
            db = c
            let version = c.serverVersion
            checks.append(DoctorCheck(.ok, "database", "connected (PostgreSQL \(version / 10000).\(version % 100))"))
        } catch {
            checks.append(
                DoctorCheck(
                    .failed, "database", error.message,
                    fix: "check [database] url, or PGHOST/PGPORT/PGUSER/PGDATABASE and ~/.pgpass; is the server running?"))
        }
        defer { db?.close() }

        var migrationsCurrent = false
        if let db {
            do {
                let status = try environment.migrator().status(on: db)
                if status.isCurrent {
                    migrationsCurrent = true
                    checks.append(DoctorCheck(.ok, "migrations", "schema current (\(status.applied.count) applied)"))
                } else if !status.changed.isEmpty || !status.unknown.isEmpty {
                    checks.append(
                        DoctorCheck(
                            .failed, "migrations",
                            "schema does not match this version (changed: \(status.changed.map(\.version)), unknown: \(status.unknown))",
                            fix: "restore the migration files or upgrade kraken-audit"))
                } else {
                    checks.append(
                        DoctorCheck(
                            .failed, "migrations", "\(status.pending.count) migration(s) pending", fix: "run `kraken-audit migrate`"))
                }
            } catch {
                checks.append(DoctorCheck(.failed, "migrations", "\(error)", fix: nil))
            }
        } else {
            checks.append(DoctorCheck(.skipped, "migrations", "needs the database"))
        }

        if let integrity = config.integrity {
            checks.append(contentsOf: checkIntegrity(integrity, db: migrationsCurrent ? db : nil))
        }
        for account in config.accounts {
            checks.append(
                contentsOf: await checkKraken(account: account, credentials: credentials[account.name], db: migrationsCurrent ? db : nil))
        }
        return checks
    }

    /// `[integrity]`: the signing key loads (private file), the digest directory is writable, the last seal.
    func checkIntegrity(_ integrity: IntegrityConfig, db: PGConnection?) -> [DoctorCheck] {
        var out: [DoctorCheck] = []
        do {
            let key = try IntegrityJob.signingKey(integrity)
            out.append(DoctorCheck(.ok, "integrity", "signing key \(key.publicKey.fingerprint) readable and private"))
        } catch {
            out.append(
                DoctorCheck(.failed, "integrity", "\(error)", fix: "create one with `kraken-audit keygen --out FILE`, or chmod 600 it"))
        }
        var isDirectory: ObjCBool = false
        let dir = integrity.digestDir
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) {
            out.append(
                isDirectory.boolValue && access(dir, W_OK) == 0
                    ? DoctorCheck(.ok, "integrity", "digest directory \(dir) writable")
                    : DoctorCheck(
                        .failed, "integrity", "digest directory \(dir) is not a writable directory", fix: "create it, writable by this user"
                    ))
        } else {
            out.append(DoctorCheck(.ok, "integrity", "digest directory \(dir) will be created by the first seal"))
        }
        guard let db else { return out }
        do {
            let rows = try db.query("SELECT max(sequence), max(created_at) FROM audit.digests").rows
            if let sequence = try rows.first?.decodeOptional(0, as: Int64.self), let at = try rows.first?.decodeOptional(1, as: Date.self) {
                let hours = Date().timeIntervalSince(at) / 3600
                out.append(
                    DoctorCheck(
                        hours > 48 ? .warning : .ok, "integrity",
                        "last digest \(sequence) sealed \(Int(hours)) h ago",
                        fix: hours > 48 ? "is the nightly run failing? `kraken-audit seal` seals now" : nil))
            } else {
                out.append(
                    DoctorCheck(.warning, "integrity", "no digest sealed yet", fix: "run `kraken-audit seal` (the nightly run seals too)"))
            }
        } catch {
            out.append(DoctorCheck(.failed, "integrity", "\(error)", fix: nil))
        }
        return out
    }

    func checkKraken(account: AccountConfig, credentials: KrakenCredentials?, db: PGConnection?) async -> [DoctorCheck] {
        let subject = "kraken \(account.name)"
        var out: [DoctorCheck] = []
        // Reachability with a public call (no key, no counter cost).
        let probe = KrakenCredentials(apiKey: "", secret: Secret("AA=="))
        do {
            let client = try KrakenClient(
                baseURL: account.apiURL, credentials: credentials ?? probe, nonces: UnavailableNonces(),
                transport: transport, timeout: account.timeoutSeconds, maxResponseBytes: account.maxResponseBytes,
                logger: environment.logger)
            let time = try await client.publicCall("Time")
            let unixtime = time.result["unixtime"]?.numberText ?? "?"
            out.append(DoctorCheck(.ok, subject, "\(account.apiURL) reachable (server time \(unixtime))"))
            guard let credentials else {
                out.append(DoctorCheck(.skipped, subject, "signed call needs readable credentials"))
                return out
            }
            guard let db else {
                out.append(DoctorCheck(.skipped, subject, "signed call needs a migrated database (nonces are kept there)"))
                return out
            }
            let accountId = try await db.run { db in
                try NonceStore.register(
                    on: db, account: account.name, keyName: account.name, fingerprint: credentials.fingerprint,
                    keyCreated: account.keyCreated)
                return try AccountStore.ensure(on: db, name: account.name)  // register returns the key's id
            }
            out.append(try await checkPacing(account: account, fingerprint: credentials.fingerprint, db: db))
            // Through the paced client, like every collection: it takes the key's call lease, so a doctor run while
            // the nightly job collects never sends a nonce that overtakes one in flight (issue 18), and it is logged.
            let session = try ProcessSession(url: environment.config.database.url, logger: environment.logger)
            defer { session.close() }
            let signed = try PacedClient(
                account: account.name, accountId: accountId, credentials: credentials, apiURL: account.apiURL,
                limit: account.rateLimit, configLabel: TierLadder.configLabel(account), db: db, holder: session.holder, runId: nil,
                transport: transport, timeout: account.timeoutSeconds, retry: RetryPolicy(maxAttempts: 2),
                maxResponseBytes: account.maxResponseBytes, logger: environment.logger)
            let info = try await signed.call("GetApiKeyInfo")
            let permissions = info.result["permissions"]?.arrayValue?.compactMap(\.stringValue) ?? []
            out.append(DoctorCheck(.ok, subject, "key \(credentials.fingerprint) accepted (GetApiKeyInfo)"))
            let missing = Self.neededPermissions.filter { !permissions.contains($0) }
            if missing.isEmpty {
                out.append(DoctorCheck(.ok, subject, "permissions: \(permissions.sorted().joined(separator: ", "))"))
            } else {
                out.append(
                    DoctorCheck(
                        .failed, subject, "key lacks permission(s): \(missing.joined(separator: ", "))",
                        fix: "edit the key on Kraken (Settings > API) and enable: \(missing.joined(separator: ", "))"))
            }
            // `watch` (issue 20) takes a WebSocket token per connection; the nightly job does not need it.
            if permissions.contains(Self.webSocketPermission) {
                out.append(DoctorCheck(.ok, subject, "WebSocket interface permission (create-ws-token): watch can connect"))
            } else {
                out.append(
                    DoctorCheck(
                        .warning, subject,
                        "key lacks the WebSocket interface permission (create-ws-token): kraken-audit watch cannot stream this account (the nightly run does not need it)",
                        fix: "to use watch: edit the key on Kraken (Settings > API) and enable WebSocket interface"))
            }
            out.append(contentsOf: Self.postureChecks(info.result, subject: subject, settings: environment.config.rules["key_posture"]))
            if let nonce = info.result["nonce"]?.stringValue.flatMap(UInt64.init), nonce > UInt64(NonceStore.nowMillis()) * 10 {
                out.append(
                    DoctorCheck(
                        .failed, subject,
                        "Kraken's highest nonce for this key (\(nonce)) is of a larger scale than millisecond nonces: every call will fail with EAPI:Invalid nonce",
                        fix: "create a new key used only by kraken-audit"))
            }
        } catch {
            // The paced client wraps Kraken's answer; the fix is chosen by Kraken's error itself.
            let cause: any Error
            if case .kraken(let e, _)? = error as? CollectError { cause = e } else { cause = error }
            out.append(DoctorCheck(.failed, subject, "\(error)", fix: Self.fix(for: cause)))
        }
        return out
    }

    /// The key's posture from its GetApiKeyInfo answer, item by item as the `key_posture` rule judges it (with the
    /// `[rules.key_posture]` thresholds when configured), each with the Kraken setting that fixes it.
    public static func postureChecks(_ info: JSONValue, subject: String, settings: ConfigTable?, now: Date = Date()) -> [DoctorCheck] {
        func integer(_ name: String, _ fallback: Int) -> Int {
            if case .integer(let v) = settings?.values[name] { return v }
            return fallback
        }
        let maxWindow = integer("max_nonce_window", 0)
        let expiryDays = integer("expires_within_days", 14)
        var out: [DoctorCheck] = []
        let allowlist = (info["ipAllowlist"]?.arrayValue ?? []).compactMap(\.stringValue)
        if allowlist.isEmpty {
            out.append(
                DoctorCheck(
                    .warning, subject, "posture: the key has no IP allowlist: anyone with the key and secret can use it from anywhere",
                    fix:
                        "on Kraken, Settings > API > edit the key > IP allowlist (Key restrictions): enter the public address(es) kraken-audit runs from"
                ))
        } else {
            out.append(DoctorCheck(.ok, subject, "posture: IP allowlist \(allowlist.joined(separator: ", "))"))
        }
        let permissions = (info["permissions"]?.arrayValue ?? []).compactMap(\.stringValue)
        let dangerous = dangerousPermissions.filter { permissions.contains($0) }
        if dangerous.isEmpty {
            out.append(DoctorCheck(.ok, subject, "posture: no permission beyond read-only"))
        } else {
            out.append(
                DoctorCheck(
                    .warning, subject, "posture: key can \(dangerous.joined(separator: ", ")): an audit key should be query-only",
                    fix:
                        "on Kraken, Settings > API > edit the key > Key permissions: untick \(dangerous.joined(separator: ", ")) (or create a new key with only \(neededPermissions.joined(separator: ", ")) and delete this one)"
                ))
        }
        let window = (info["nonceWindow"]?.numberText ?? info["nonceWindow"]?.stringValue).flatMap { UInt64($0) } ?? 0
        if window > UInt64(maxWindow) {
            out.append(
                DoctorCheck(
                    .warning, subject,
                    "posture: nonce window \(window) (at most \(maxWindow) expected): nonces below the highest are accepted, so a second client can share the key unnoticed",
                    fix: "on Kraken, Settings > API > edit the key > Nonce window (Advanced): set it to \(maxWindow)"))
        } else {
            out.append(DoctorCheck(.ok, subject, "posture: nonce window \(window)"))
        }
        let validUntil = (info["validUntil"]?.stringValue ?? info["validUntil"]?.numberText).flatMap { Double($0) } ?? 0
        if validUntil > 0, validUntil <= now.timeIntervalSince1970 + Double(expiryDays) * 86_400 {
            let when = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: validUntil))
            out.append(
                DoctorCheck(
                    .warning, subject, "posture: the key \(validUntil <= now.timeIntervalSince1970 ? "expired" : "expires") at \(when)",
                    fix:
                        "on Kraken, Settings > API > edit the key > Key expiration (Advanced): extend it, or create a new key and switch the config to it before then"
                ))
        } else {
            out.append(
                DoctorCheck(
                    .ok, subject,
                    validUntil > 0
                        ? "posture: key valid until \(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: validUntil)))"
                        : "posture: key does not expire"))
        }
        return out
    }

    /// The learned tier vs the configured one: a key that behaved like a lower tier than the config says is
    /// paced slower by the collector (``LearnedPacing``); say so, and how to make the config right.
    func checkPacing(account: AccountConfig, fingerprint: String, db: PGConnection) async throws -> DoctorCheck {
        let subject = "kraken \(account.name)"
        let configured = TierLadder.configLabel(account)
        let learned = try await db.run { db in try LearnedPacing.load(on: db, fingerprint: fingerprint) }
        guard let learned else {
            return DoctorCheck(.ok, subject, "pacing: as configured (\(configured)); no rate-limit error has corrected it")
        }
        guard learned.applies(toConfiguredMax: account.rateLimit.max, decay: account.rateLimit.decayPerSecond) else {
            return DoctorCheck(
                .ok, subject,
                "pacing: as configured (\(configured)); the earlier correction (\(learned.summary)) no longer applies (config changed, or older than 30 days) and the next run forgets it"
            )
        }
        let when = ISO8601DateFormatter().string(from: learned.learnedAt)
        let fix: String
        if let tier = TierLadder.tier(of: RateLimit(max: learned.max, decayPerSecond: learned.decayPerSecond)) {
            fix =
                "set tier = \"\(tier.rawValue)\" (and no rate_limit) in the [[account]] named \(account.name), or raise the account's verification tier on Kraken and keep the config"
        } else {
            fix =
                "set rate_limit = { max = \(TierLadder.number(learned.max)), decay_per_second = \(TierLadder.number(learned.decayPerSecond)) } in the [[account]] named \(account.name)"
        }
        return DoctorCheck(
            .warning, subject,
            "pacing: \(learned.summary) (learned \(when): \(learned.reason)); runs pace as \(learned.label) while the config says \(learned.configLabel), for up to 30 days",
            fix: fix)
    }

    static func fix(for error: any Error) -> String? {
        switch error {
        case ConfigError.secret(_, let secretError):
            switch secretError {
            case .filePermissions(let path, _): return "chmod 600 \(path)"
            case .fileOwner(let path, _, let uid): return "chown \(uid) \(path)"
            case .envNotSet(let v, _): return "export \(v)=... in the environment of kraken-audit"
            case .fileMissing(let p, _): return "create \(p) holding only the value, mode 600"
            default: return nil
            }
        case let e as KrakenError:
            switch e.kind {
            case .invalidKey: return "check that api_key_* holds the key's public API key"
            case .invalidSignature: return "check that api_secret_* holds the key's private key (base64)"
            case .permissionDenied: return "enable the missing permission on the key"
            case .invalidNonce: return "use a key that only kraken-audit uses"
            default: return e.isTransient ? "retry later" : nil
            }
        case is SigningError: return "copy the private key again from Kraken"
        default: return nil
        }
    }

    /// Renders the checklist for a terminal.
    public static func render(_ checks: [DoctorCheck]) -> String {
        checks.map { c in
            let mark: String
            switch c.status {
            case .ok: mark = "[ok]  "
            case .warning: mark = "[warn]"
            case .failed: mark = "[FAIL]"
            case .skipped: mark = "[skip]"
            }
            var line = "\(mark) \(c.subject): \(c.detail)"
            if let fix = c.fix { line += "\n       fix: \(fix)" }
            return line
        }.joined(separator: "\n")
    }
}

/// Used for public calls only: taking a nonce from it is an error.
struct UnavailableNonces: NonceSource {
    func nextNonce() async throws -> UInt64 {
        throw KrakenError.nonceUnavailable(reason: "no nonce store for this client")
    }
}
