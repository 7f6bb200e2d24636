import Alerts
import Analyser
import AuditConfig
import AuditKernel
import AuditStore
import Collector
import KrakenAPI
import Operations
import Reports
import Testing

/// Issue 16 part 3: one error → exit-code mapping (``ExitStatus/forError(_:)``) covers every error type the tool
/// throws, each case, with the codes the README's "Exit codes" table documents.
@Suite struct ExitStatusTests {
    static let pgDown = PGError(kind: .connection, message: "refused")
    static let pgSyntax = PGError(kind: .query, sqlState: "42601", message: "syntax error")
    static let krakenKey = KrakenError.api(method: "Balance", errors: [KrakenErrorString("EAPI:Invalid key")])
    static let krakenLockout = KrakenError.api(method: "Balance", errors: [KrakenErrorString("EGeneral:Temporary lockout")])
    static let http502 = KrakenError.http(method: "Ledgers", status: 502, snippet: "")

    static let jsonParseError: any Error = {
        do {
            _ = try JSONValue.parse(Array("{".utf8))
            return UnknownError()
        } catch {
            return error
        }
    }()

    /// (what, error, documented code).
    static let table: [(String, any Error, Int32)] = [
        // 78: configuration error: bad config, unreadable or non-private secret, unmigrated schema.
        ("ConfigError.fileNotFound", ConfigError.fileNotFound(searched: ["a"]), 78),
        ("ConfigError.unreadable", ConfigError.unreadable(path: "p", reason: "r"), 78),
        ("ConfigError.syntax", ConfigError.syntax(path: "p", line: 1, column: 1, message: "m"), 78),
        ("ConfigError.unknownKey", ConfigError.unknownKey(path: "x"), 78),
        ("ConfigError.wrongType", ConfigError.wrongType(path: "x", expected: "a", found: "b"), 78),
        ("ConfigError.missingKey", ConfigError.missingKey(path: "x"), 78),
        ("ConfigError.invalidValue", ConfigError.invalidValue(path: "x", reason: "r"), 78),
        ("ConfigError.duplicateAccount", ConfigError.duplicateAccount(name: "main"), 78),
        ("ConfigError.secret", ConfigError.secret(account: "main", .empty(source: "s")), 78),
        ("SecretError.envNotSet", SecretError.envNotSet(variable: "V", key: "api_key"), 78),
        ("SecretError.fileMissing", SecretError.fileMissing(path: "p", key: "api_key"), 78),
        ("SecretError.fileUnreadable", SecretError.fileUnreadable(path: "p", reason: "r"), 78),
        ("SecretError.filePermissions", SecretError.filePermissions(path: "p", mode: "0644"), 78),
        ("SecretError.fileOwner", SecretError.fileOwner(path: "p", owner: 1, expected: 2), 78),
        ("SecretError.commandFailed", SecretError.commandFailed(command: "c", reason: "r"), 78),
        ("SecretError.empty", SecretError.empty(source: "s"), 78),
        ("SigningError.secretNotBase64", SigningError.secretNotBase64, 78),
        ("SchemaNotCurrent", SchemaNotCurrent(pending: [7]), 78),

        // PostgreSQL: temporary (unreachable, shutting down, lock timeout) 75; anything else unexpected 70.
        ("PGError connection", pgDown, 75),
        ("PGError connectionLost", PGError(kind: .connectionLost, message: "gone"), 75),
        ("PGError 57P01 admin shutdown", PGError(kind: .query, sqlState: "57P01", message: "terminating"), 75),
        ("PGError 55P03 lock not available", PGError(kind: .query, sqlState: "55P03", message: "lock"), 75),
        ("PGError query", pgSyntax, 70),
        ("PGError decode", PGError(kind: .decode, message: "bad"), 70),
        ("PGError copy", PGError(kind: .copy, sqlState: "22P02", message: "bad"), 70),

        // Migrations: files missing or misnamed 78; changed or newer 65; a failed migration 70.
        ("MigrationError.directoryNotFound", MigrationError.directoryNotFound(searched: ["a"]), 78),
        ("MigrationError.unreadable", MigrationError.unreadable(path: "p", reason: "r"), 78),
        ("MigrationError.badFileName", MigrationError.badFileName("x.sql"), 78),
        ("MigrationError.duplicateVersion", MigrationError.duplicateVersion(1, ["a", "b"]), 78),
        ("MigrationError.checksumMismatch", MigrationError.checksumMismatch(version: 1, name: "n", applied: "a", onDisk: "b"), 65),
        ("MigrationError.databaseNewer", MigrationError.databaseNewer(versions: [99]), 65),
        ("MigrationError.failed", MigrationError.failed(version: 1, name: "n", error: pgSyntax), 70),
        ("MigrationError.database temporary", MigrationError.database(pgDown), 75),
        ("MigrationError.database", MigrationError.database(pgSyntax), 70),

        // Kraken: unreachable, 5xx, locked out 75; refused for good 69; malformed 65; insecure URL 78.
        ("KrakenError.api invalid key", krakenKey, 69),
        (
            "KrakenError.api permission denied",
            KrakenError.api(method: "Ledgers", errors: [KrakenErrorString("EGeneral:Permission denied")]), 69
        ),
        ("KrakenError.api temporary lockout", krakenLockout, 75),
        ("KrakenError.api EService", KrakenError.api(method: "Ledgers", errors: [KrakenErrorString("EService:Unavailable")]), 75),
        ("KrakenError.api rate limit", KrakenError.api(method: "Ledgers", errors: [KrakenErrorString("EAPI:Rate limit exceeded")]), 75),
        ("KrakenError.http 502", http502, 75),
        ("KrakenError.http 403", KrakenError.http(method: "Ledgers", status: 403, snippet: ""), 69),
        ("KrakenError.transport", KrakenError.transport(method: "Ledgers", reason: "timed out"), 75),
        ("KrakenError.malformedResponse", KrakenError.malformedResponse(method: "Ledgers", reason: "r"), 65),
        ("KrakenError.insecureURL", KrakenError.insecureURL("http://example.com"), 78),
        ("KrakenError.nonceUnavailable", KrakenError.nonceUnavailable(reason: "db down"), 75),
        ("KrakenError.redirected", KrakenError.redirected(method: "Balance", status: 307, host: "127.0.0.2:1"), 69),
        ("KrakenError.responseTooLarge", KrakenError.responseTooLarge(method: "Ledgers", limit: 1), 69),
        ("KrakenError.responseFileFailed", KrakenError.responseFileFailed(method: "RetrieveExport", reason: "disk full"), 69),
        ("ResponseBodyError.tooLarge", ResponseBodyError.tooLarge(limit: 1, declared: nil), 69),
        ("ResponseBodyError.fileWrite", ResponseBodyError.fileWrite(reason: "disk full"), 73),

        // 73: cannot write an output file.
        ("OutputError.cannotWrite", OutputError.cannotWrite(path: "p", reason: "r"), 73),

        // Alerts.
        ("AlertError.notConfigured", AlertError.notConfigured, 78),
        ("AlertError.hookNotExecutable", AlertError.hookNotExecutable("/x"), 78),
        ("AlertError.database temporary", AlertError.database(pgDown), 75),
        ("AlertError.database", AlertError.database(pgSyntax), 70),

        // Analyser: rule files and [rules.*] 78; a wrong --account/--rule 64; a concurrent analyser 75.
        ("AnalyserError.rulesUnreadable", AnalyserError.rulesUnreadable(path: "p", reason: "r"), 78),
        ("AnalyserError.badRuleFile", AnalyserError.badRuleFile(path: "p", line: 1, problem: "x"), 78),
        ("AnalyserError.duplicateRule", AnalyserError.duplicateRule(id: "r", paths: ["a", "b"]), 78),
        ("AnalyserError.config", AnalyserError.config(.missingKey(path: "rules.x.y")), 78),
        ("AnalyserError.unknownAccount", AnalyserError.unknownAccount(name: "x", known: ["main"]), 64),
        ("AnalyserError.accountRequired", AnalyserError.accountRequired(known: ["a", "b"]), 64),
        ("AnalyserError.unknownRule", AnalyserError.unknownRule(id: "x", known: ["r"]), 64),
        ("AnalyserError.ruleDisabled", AnalyserError.ruleDisabled(id: "r"), 64),
        ("AnalyserError.alreadyRunning", AnalyserError.alreadyRunning, 75),
        ("AnalyserError.database temporary", AnalyserError.database(pgDown), 75),
        ("AnalyserError.database", AnalyserError.database(pgSyntax), 70),
        ("AnalyserError.findingNotFound", AnalyserError.findingNotFound(id: 1), 1),
        ("AnalyserError.invalidStatusChange", AnalyserError.invalidStatusChange(id: 1, reason: "r"), 1),

        // Collection of one account, as its outcome counts for the command (ExitStatus.forOutcomes).
        ("CollectError.kraken refused", CollectError.kraken(krakenKey, attempts: 1), 69),
        ("CollectError.kraken 5xx", CollectError.kraken(http502, attempts: 3), 75),
        (
            "CollectError.kraken invalid nonce",
            CollectError.kraken(.api(method: "Ledgers", errors: [KrakenErrorString("EAPI:Invalid nonce")]), attempts: 2), 75
        ),
        ("CollectError.lockedOut", CollectError.lockedOut(fingerprint: "f", secondsLeft: 60), 75),
        ("CollectError.malformed", CollectError.malformed(endpoint: "Ledgers", reason: "r"), 65),
        ("CollectError.unreadableCursor", CollectError.unreadableCursor(account: "a", endpoint: "Ledgers", reason: "r"), 65),
        ("CollectError.database temporary", CollectError.database(pgDown), 75),
        ("CollectError.database", CollectError.database(pgSyntax), 70),
        ("CollectError.configuration", CollectError.configuration("bad"), 78),
        ("CollectError.cancelled", CollectError.cancelled, 75),
        ("CollectError.accountBusy", CollectError.accountBusy(account: "main"), 75),

        // Kraken's data export.
        ("ExportError.notZip", ExportError.notZip(krakenId: "A", detail: "d"), 65),
        ("ExportError.corruptZip", ExportError.corruptZip(path: "p", reason: "r"), 65),
        ("ExportError.unexpectedArchive", ExportError.unexpectedArchive(path: "p", entries: []), 65),
        ("ExportError.headerChanged", ExportError.headerChanged(report: "ledgers", problem: "p", header: []), 65),
        ("ExportError.badData", ExportError.badData(report: "ledgers", reason: "r"), 65),
        ("ExportError.duplicateIds", ExportError.duplicateIds(report: "ledgers", count: 2, examples: []), 65),
        ("ExportError.outsideWindow", ExportError.outsideWindow(report: "ledgers", count: 1, example: "e"), 65),
        ("ExportError.badKrakenId", ExportError.badKrakenId(shown: "x"), 65),
        ("ExportError.entryTooLarge", ExportError.entryTooLarge(path: "p", entry: "e", problem: "p"), 65),
        ("ExportError.countMismatch", ExportError.countMismatch(report: "ledgers", keyed: 2, stored: 1), 75),
        ("ExportError.fileMissing", ExportError.fileMissing(path: "p", reason: "r"), 75),
        ("ExportError.krakenFailed", ExportError.krakenFailed(krakenId: "A", error: "size too big"), 69),
        ("ExportError.unsafeFile", ExportError.unsafeFile(path: "p", reason: "is a symlink"), 73),

        // grant.
        ("GrantError.invalidName", GrantError.invalidName(""), 64),
        ("GrantError.granteeMissing", GrantError.granteeMissing("alice"), 64),
        ("GrantError.roleMissing", GrantError.roleMissing("kraken_audit_reader"), 78),
        (
            "GrantError.notAllowed",
            GrantError.notAllowed(role: "r", grantee: "g", PGError(kind: .query, sqlState: "42501", message: "denied")), 69
        ),
        ("GrantError.database temporary", GrantError.database(pgDown), 75),
        ("GrantError.database", GrantError.database(pgSyntax), 70),

        // run.
        ("RunError.alreadyRunning", RunError.alreadyRunning, 5),
        ("RunError.nothingLeft", RunError.nothingLeft(night: 7), 5),
        ("RunError.interrupted SIGINT", RunError.interrupted(signal: 2), 130),
        ("RunError.interrupted SIGTERM", RunError.interrupted(signal: 15), 143),

        // The rest.
        ("UsageError", UsageError("--since must be before --until"), 64),
        ("JSONParseError", jsonParseError, 65),
        ("CancellationError", CancellationError(), 75),
        ("an error of no known type", UnknownError(), 1),
    ]

    struct UnknownError: Error {}

    @Test func everyErrorTypeAndCaseHasItsDocumentedCode() {
        for (what, error, code) in Self.table {
            #expect(ExitStatus.forError(error).rawValue == code, "\(what)")
        }
    }

    /// Every code the mapping can give is one the README documents.
    @Test func everyCodeIsDocumented() {
        let documented: Set<Int32> = [0, 1, 3, 4, 5, 64, 65, 69, 70, 73, 75, 78, 130, 143]
        #expect(Set(ExitStatus.allCases.map(\.rawValue)) == documented)
        for (what, error, _) in Self.table {
            #expect(documented.contains(ExitStatus.forError(error).rawValue), "\(what)")
        }
    }

    @Test func signals() {
        #expect(ExitStatus.forSignal(2) == .interrupted)
        #expect(ExitStatus.forSignal(15) == .terminated)
        #expect(ExitStatus.forSignal(9) == .tempFail)
    }

    /// `GrantError.exitStatus` is the same mapping, not a second one.
    @Test func grantErrorUsesTheOneMapping() {
        for e in [GrantError.invalidName(""), .granteeMissing("g"), .roleMissing("r"), .database(Self.pgDown)] {
            #expect(e.exitStatus == ExitStatus.forError(e))
        }
    }
}
