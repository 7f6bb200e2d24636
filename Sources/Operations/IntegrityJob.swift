import AuditConfig
import AuditStore
import Foundation
import Integrity
import Logging

/// The integrity steps of the nightly `run` and the `seal`/`verify` commands, over the configuration's
/// `[integrity]` section (issue 17).
enum IntegrityJob {
    /// The configured signing key (`[integrity] signing_key_file`), with the same checks as secret files.
    static func signingKey(_ config: IntegrityConfig) throws(IntegrityError) -> Ed25519PrivateKey {
        try Ed25519PrivateKey.load(path: config.signingKeyFile)
    }

    /// The public key a verification trusts: `--public-key FILE` when given, else the configured signing key's.
    static func publicKey(file: String?, config: IntegrityConfig?) throws -> Ed25519PublicKey {
        if let file { return try Ed25519PublicKey.load(path: file) }
        guard let config else { throw IntegrityUsage.noPublicKey }
        return try signingKey(config).publicKey
    }

    /// Seals with the configured key, directory and hook.
    static func seal(_ config: IntegrityConfig, db: PGConnection, logger: Logger) throws -> Sealer.Sealed {
        let hook = config.hook.map { DigestHook(executable: $0) }
        return try Sealer(
            db: db, key: try signingKey(config), archive: DigestArchive(directory: config.digestDir), hook: hook, logger: logger
        )
        .seal()
    }

    /// The nightly check: incremental (from each chain's newest signed head) unless a full pass is due
    /// (`verify_full_every_days` since the last one, or none yet). Records the verification and its problems
    /// (`audit.integrity_verifications`, `audit.integrity_problems`: the rule audit_tampered turns them into
    /// critical findings).
    static func nightlyVerify(_ config: IntegrityConfig, db: PGConnection, runId: Int64?, logger: Logger) throws
        -> IntegrityVerifier.Report
    {
        let lastFull = try db.query("SELECT last_full_verify FROM audit.integrity_state").rows.first?.decodeOptional(0, as: Date.self)
        let due = lastFull.map { Date().timeIntervalSince($0) >= Double(config.verifyFullEveryDays) * 86400 - 3600 } ?? true
        let mode: IntegrityVerifier.Mode = due ? .full : .incremental
        let started = Date()
        let key = try signingKey(config)
        // A seal killed after its commit left a digest without its file: write it before the files are checked.
        _ = try Sealer(
            db: db, key: key, archive: DigestArchive(directory: config.digestDir), hook: config.hook.map { DigestHook(executable: $0) },
            logger: logger
        ).recoverFiles()
        let verifier = IntegrityVerifier(
            db: db, publicKey: key.publicKey, archive: DigestArchive(directory: config.digestDir), logger: logger)
        let report = try verifier.verify(mode: mode)
        try record(report, started: started, runId: runId, db: db)
        if report.intact {
            logger.info("integrity verified", metadata: ["mode": "\(mode.rawValue)", "rows": "\(report.rowsChecked)"])
        } else {
            logger.critical(
                "integrity check found tampering",
                metadata: ["mode": "\(mode.rawValue)", "problems": "\(report.problems.count)", "first": "\(report.problems[0].detail)"])
        }
        return report
    }

    /// Stores a verification and its problems.
    static func record(_ report: IntegrityVerifier.Report, started: Date, runId: Int64?, db: PGConnection) throws {
        try db.transaction {
            let id = try db.query(
                """
                INSERT INTO audit.integrity_verifications (run_id, mode, started_at, rows_checked, digests_checked, problems)
                VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
                """, [runId, report.mode.rawValue, started, report.rowsChecked, report.digestsChecked, report.problems.count]
            ).rows[0].decode(0, as: Int64.self)
            for (problem, proof) in zip(report.problems, report.proofs) {
                let key = String(decoding: try JSONEncoder.sorted.encode(problem.key), as: UTF8.self)
                try db.execute(
                    """
                    INSERT INTO audit.integrity_problems (verification_id, account_id, kind, chain, position, row_key, columns, detail,
                                                          digest_sequence, digest_file)
                    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::text[], $8, $9, $10)
                    """,
                    [
                        id, problem.accountId, problem.kind.rawValue, problem.table, problem.position, key,
                        PGArray.text(problem.columns), problem.detail, proof?.sequence, proof?.file,
                    ])
            }
            if report.mode == .full {
                try db.execute("UPDATE audit.integrity_state SET last_full_verify = $1", [started])
            }
        }
    }
}

/// Why `verify` cannot start.
public enum IntegrityUsage: Error, CustomStringConvertible {
    case noPublicKey
    case notConfigured(command: String)

    public var description: String {
        switch self {
        case .noPublicKey:
            "verify needs the public key that signed the digests: pass --public-key FILE (the .pub file `kraken-audit keygen` wrote) or configure [integrity] signing_key_file"
        case .notConfigured(let command):
            "\(command) needs an [integrity] section in the config (signing_key_file, digest_dir): create a key with `kraken-audit keygen --out FILE` and add the lines it prints"
        }
    }
}

extension JSONEncoder {
    /// Sorted keys: the same value always encodes to the same text.
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
