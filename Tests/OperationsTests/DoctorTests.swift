import AuditConfig
import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import Logging
import Operations
import TestSupport
import Testing

/// Answers `Time` and `GetApiKeyInfo` like Kraken, checking the signature; enough for doctor's checks.
struct FakeKraken: HTTPTransport {
    let apiKey: String
    let secret: String
    let permissions: [String]

    func send(_ request: TransportRequest) async throws -> TransportResponse {
        if request.url.path == "/0/public/Time" {
            return TransportResponse(status: 200, body: Array(#"{"error":[],"result":{"unixtime":1764135267,"rfc1123":"x"}}"#.utf8))
        }
        let headers = Dictionary(request.headers, uniquingKeysWith: { a, _ in a })
        guard headers["API-Key"] == apiKey else { return Self.error("EAPI:Invalid key") }
        let body = String(decoding: request.body, as: UTF8.self)
        let nonce = FormEncoding.decode(body)?.first { $0.0 == "nonce" }.flatMap { UInt64($0.1) } ?? 0
        let expected = try RequestSigner(secret: Secret(secret)).sign(path: request.url.path, nonce: nonce, body: request.body)
        guard headers["API-Sign"] == expected else { return Self.error("EAPI:Invalid signature") }
        let perms = permissions.map { "\"\($0)\"" }.joined(separator: ",")
        return TransportResponse(
            status: 200,
            body: Array(
                #"{"error":[],"result":{"apiKeyName":"audit","nonce":"\#(nonce)","nonceWindow":0,"permissions":[\#(perms)],"ipAllowlist":["203.0.113.7"],"validUntil":"0"}}"#
                    .utf8))
    }

    static func error(_ e: String) -> TransportResponse { TransportResponse(status: 200, body: Array(#"{"error":["\#(e)"]}"#.utf8)) }
}

@Suite struct DoctorTests {
    static let secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="
    let database: TestDatabase
    init() throws { database = try TestDatabase("doctor") }

    func secretFile(mode: Int) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ka-doctor-\(UUID().uuidString)").path
        try Self.secret.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    func config(secretPath: String, dbURL: String) throws -> AuditConfiguration {
        try ConfigLoader.parse(
            """
            [database]
            url = "\(dbURL)"
            [[account]]
            name = "main"
            api_key_env = "KA_TEST_KEY"
            api_secret_file = "\(secretPath)"
            api_url = "http://127.0.0.1:9"
            """, path: "doctor.toml")
    }

    func doctor(_ config: AuditConfiguration, permissions: [String] = Doctor.neededPermissions) -> Doctor {
        Doctor(
            environment: AuditEnvironment(config: config, sqlDirectory: TestDatabase.sqlDirectory.path, logger: TestDatabase.logger),
            secrets: SecretReader(environment: ["KA_TEST_KEY": "PUBKEY"]),
            transport: FakeKraken(apiKey: "PUBKEY", secret: Self.secret, permissions: permissions))
    }

    @Test func groupReadableSecretIsNamedWithTheFix() async throws {
        let path = try secretFile(mode: 0o640)
        let checks = await doctor(try config(secretPath: path, dbURL: database.url)).run()
        let failed = checks.filter { $0.status == .failed }
        let secretCheck = try #require(failed.first { $0.subject == "account main" })
        #expect(secretCheck.detail.contains(path))
        #expect(secretCheck.detail.contains("mode 0640"))
        #expect(secretCheck.fix == "chmod 600 \(path)")
        #expect(Doctor.render(checks).contains("fix: chmod 600 \(path)"))
    }

    @Test func pendingMigrationsThenAllGreen() async throws {
        let path = try secretFile(mode: 0o600)
        let cfg = try config(secretPath: path, dbURL: database.url)
        let before = await doctor(cfg).run()
        #expect(before.contains { $0.subject == "migrations" && $0.status == .failed && $0.fix == "run `kraken-audit migrate`" })
        #expect(before.contains { $0.subject == "kraken main" && $0.status == .skipped })
        _ = try database.migrated()
        let after = await doctor(cfg, permissions: Doctor.neededPermissions + [Doctor.webSocketPermission]).run()
        #expect(after.allSatisfy { $0.status == .ok }, "\(Doctor.render(after))")
        // Without the WebSocket interface permission the nightly job is fine; `watch` is not: one warning says so.
        let noWatch = await doctor(cfg).run()
        #expect(
            noWatch.filter { $0.status != .ok }.map(\.detail) == [
                "key lacks the WebSocket interface permission (create-ws-token): kraken-audit watch cannot stream this account (the nightly run does not need it)"
            ])
        #expect(after.contains { $0.detail.contains("GetApiKeyInfo") })
        // The signed call took its nonce from the database.
        let db = try database.connect()
        let nonce = try db.query("SELECT last_nonce FROM audit.api_keys").rows[0].decode(0, as: Int64.self)
        #expect(nonce > 1_700_000_000_000)
    }

    @Test func dangerousAndMissingPermissions() async throws {
        _ = try database.migrated()
        let cfg = try config(secretPath: try secretFile(mode: 0o600), dbURL: database.url)
        let checks = await doctor(cfg, permissions: ["query-funds", "query-ledger", "withdraw-funds"]).run()
        #expect(checks.contains { $0.status == .failed && $0.detail.contains("query-open-trades, query-closed-trades") })
        #expect(checks.contains { $0.status == .warning && $0.detail.contains("withdraw-funds") })
    }

    /// Issue 15: the posture checklist names each weakness and the Kraken setting that fixes it.
    @Test func postureChecklistNamesTheKrakenSettingToChange() throws {
        let weak = try JSONValue.parse(
            Array(
                #"""
                {"permissions":["query-funds","withdraw-funds"],"ipAllowlist":[],"nonceWindow":5000,"validUntil":"1764200000"}
                """#.utf8))
        let checks = Doctor.postureChecks(weak, subject: "kraken main", settings: nil, now: Date(timeIntervalSince1970: 1_764_135_267))
        let warnings = checks.filter { $0.status == .warning }
        #expect(warnings.count == 4, "\(Doctor.render(checks))")
        #expect(warnings.contains { $0.detail.contains("no IP allowlist") && $0.fix?.contains("IP allowlist") == true })
        #expect(
            warnings.contains { $0.detail.contains("withdraw-funds") && $0.fix?.contains("Key permissions: untick withdraw-funds") == true }
        )
        #expect(warnings.contains { $0.detail.contains("nonce window 5000") && $0.fix?.contains("Nonce window") == true })
        #expect(warnings.contains { $0.detail.contains("expires") && $0.fix?.contains("Key expiration") == true })
        // A read-only key with an allowlist, no window and no expiry: four green lines.
        let good = try JSONValue.parse(
            Array(
                #"""
                {"permissions":["query-funds","query-ledger"],"ipAllowlist":["203.0.113.7"],"nonceWindow":0,"validUntil":"0"}
                """#.utf8))
        let ok = Doctor.postureChecks(good, subject: "kraken main", settings: nil)
        #expect(ok.count == 4 && ok.allSatisfy { $0.status == .ok }, "\(Doctor.render(ok))")
    }

    @Test func unreachableDatabaseIsOneCheck() async throws {
        let cfg = try config(secretPath: try secretFile(mode: 0o600), dbURL: "postgresql://127.0.0.1:1/x?connect_timeout=2")
        let checks = await doctor(cfg).run()
        let db = try #require(checks.first { $0.subject == "database" })
        #expect(db.status == .failed)
        #expect(!db.detail.contains("\n"))
        #expect(checks.contains { $0.subject == "migrations" && $0.status == .skipped })
    }

    @Test func exitCodes() {
        #expect(ExitStatus.forError(ConfigError.missingKey(path: "x")) == .config)
        #expect(ExitStatus.forError(PGError(kind: .connection, message: "x")) == .tempFail)
        #expect(ExitStatus.forError(KrakenError.http(method: "Ledgers", status: 502, snippet: "")) == .tempFail)
        #expect(
            ExitStatus.forError(KrakenError.api(method: "Ledgers", errors: [KrakenErrorString("EGeneral:Temporary lockout")])) == .tempFail)
        #expect(ExitStatus.forError(KrakenError.api(method: "Ledgers", errors: [KrakenErrorString("EAPI:Invalid key")])) == .unavailable)
        #expect(ExitStatus.forError(MigrationError.databaseNewer(versions: [9])) == .dataError)
    }
}
