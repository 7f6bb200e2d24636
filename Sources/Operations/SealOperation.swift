import Integrity

/// `kraken-audit seal`: signs a digest of every hash chain now (also done at the end of every `run`).
public struct SealOperation: AuditOperation {
    public static let label = "seal"

    public init() {}

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        guard let integrity = environment.config.integrity else { throw IntegrityUsage.notConfigured(command: "seal") }
        try environment.requireCurrentSchema()
        let db = try environment.connect()
        defer { db.close() }
        let sealed = try IntegrityJob.seal(integrity, db: db, logger: environment.logger)
        let d = sealed.digest.document
        var lines = [
            "sealed digest \(d.sequence): \(d.chains.count) chain(s), \(d.chains.reduce(0) { $0 + $1.rows }) row(s), signed by \(d.publicKeyFingerprint)",
            "file: \(sealed.path)",
            "digest hash: \(sealed.digest.digestHash)",
        ]
        for path in sealed.recovered { lines.append("also wrote the missing file of an earlier digest: \(path)") }
        return CommandResult(lines: lines)
    }
}
