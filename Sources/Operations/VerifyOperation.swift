import AuditStore
import Foundation
import Integrity

/// `kraken-audit verify [--account NAME]... [--since DATE] [--digest-dir DIR] [--public-key FILE] [--json]`:
/// recomputes every hash chain, checks every signed digest, and names what differs. Exit 0 intact, 1 tampering
/// found; 65/78 for unreadable input or configuration. Changes nothing in the database.
public struct VerifyOperation: AuditOperation {
    public static let label = "verify"

    public var accounts: [String]
    public var since: Date?
    public var digestDirectory: String?
    public var publicKeyFile: String?
    public var json: Bool

    public init(
        accounts: [String] = [], since: Date? = nil, digestDirectory: String? = nil, publicKeyFile: String? = nil, json: Bool = false
    ) {
        self.accounts = accounts
        self.since = since
        self.digestDirectory = digestDirectory
        self.publicKeyFile = publicKeyFile
        self.json = json
    }

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        let integrity = environment.config.integrity
        let publicKey = try IntegrityJob.publicKey(file: publicKeyFile, config: integrity)
        try environment.requireCurrentSchema()
        let db = try environment.connect()
        defer { db.close() }
        var accountIds: Set<Int>? = nil
        if !accounts.isEmpty {
            let rows = try db.query("SELECT name, id FROM audit.accounts WHERE name = ANY ($1::text[])", [PGArray.text(accounts)]).rows
            let known = Dictionary(
                uniqueKeysWithValues: try rows.map { (try $0.decode(0, as: String.self), try $0.decode(1, as: Int.self)) })
            if let missing = accounts.first(where: { known[$0] == nil }) {
                throw UsageError(
                    "--account \(missing): the database has no account of that name (kraken-audit findings lists the accounts it knows)")
            }
            accountIds = Set(known.values)
        }
        let directory = digestDirectory ?? integrity?.digestDir
        let verifier = IntegrityVerifier(
            db: db, publicKey: publicKey, archive: directory.map { DigestArchive(directory: $0) }, logger: environment.logger)
        let report = try verifier.verify(mode: .full, accountIds: accountIds, since: since)
        let status: ExitStatus = report.intact ? .success : .failure
        if json {
            let encoder = JSONEncoder.sorted
            encoder.outputFormatting.insert(.prettyPrinted)
            return CommandResult(output: String(decoding: try encoder.encode(report), as: UTF8.self) + "\n", status: status)
        }
        var lines = [
            "checked \(report.rowsChecked) row(s) in \(report.chainsChecked) chain(s)\(since.map { " chained since \(PGTimestamp.format($0))" } ?? "") and \(report.digestsChecked) digest(s) (newest: \(report.newestDigest.map { "\($0)" } ?? "none")) with public key \(report.publicKeyFingerprint)"
        ]
        if directory == nil {
            lines.append(
                "no digest directory (--digest-dir or [integrity] digest_dir): only the database's copies of the digests were checked")
        }
        if report.intact {
            lines.append("INTACT: every row hashes to its chain link and every chain holds its newest signed head")
        } else {
            lines.append("TAMPERING FOUND: \(report.problems.count) problem(s)")
            for (problem, proof) in zip(report.problems, report.proofs) {
                lines.append("- \(problem.kind.rawValue): \(problem.detail)")
                if let proof { lines.append("  proof: digest \(proof.sequence)\(proof.file.map { " (\($0))" } ?? "")") }
            }
        }
        return CommandResult(lines: lines, status: status)
    }
}
