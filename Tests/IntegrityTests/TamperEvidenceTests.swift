import Analyser
import AuditConfig
import AuditKernel
import AuditStore
import ChildProcesses
import Foundation
import Integrity
import Logging
import TestSupport
import Testing

@testable import AuditStore
@testable import Operations

/// Issue 17's "done when", end to end: a collection from the simulator into a real PostgreSQL, sealed with a real
/// Ed25519 key into a digest directory, then tampered with the way an insider would (as superuser, with the
/// triggers switched off by `session_replication_role = replica`), then verified: each change is named.
@Suite(.serialized) struct TamperEvidenceTests {
    static let setup = SimulatedCollection.Setup(
        accounts: 1, scale: 120, days: 20, databasePrefix: "tamper", logLabel: "tamper-test")

    /// A collected, sealed database with its key and digest directory.
    struct Sealed {
        let h: SimulatedCollection
        let key: Ed25519PrivateKey
        let archive: DigestArchive

        func seal() throws -> Sealer.Sealed {
            try Sealer(db: h.db, key: key, archive: archive, hook: nil, logger: h.logger).seal()
        }

        func verify(_ db: PGConnection? = nil, mode: IntegrityVerifier.Mode = .full) throws -> IntegrityVerifier.Report {
            try IntegrityVerifier(db: db ?? h.db, publicKey: key.publicKey, archive: archive, logger: h.logger).verify(mode: mode)
        }

        /// Runs `sql` as a superuser with every trigger switched off, as an insider would.
        func tamper(_ sql: String, _ binds: [(any PGEncodable)?] = []) throws {
            try h.db.transaction {
                try h.db.executeScript("SET LOCAL session_replication_role = replica")
                _ = try h.db.execute(sql, binds)
            }
        }
    }

    static func withSealed<T>(_ body: (Sealed) async throws -> T) async throws -> T {
        try await withSimulatedCollection(setup) { h in
            let outcomes = await h.collect()
            let failed = outcomes.filter { !$0.succeeded }.map { String(describing: $0.error) }
            #expect(failed.isEmpty, "\(failed)")
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ka-digests-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let sealed = Sealed(h: h, key: try Ed25519PrivateKey.generate(), archive: DigestArchive(directory: directory))
            _ = try sealed.seal()
            return try await body(sealed)
        }
    }

    static func describe(_ report: IntegrityVerifier.Report) -> String {
        report.problems.map { "\($0.kind.rawValue): \($0.detail)" }.joined(separator: "\n")
    }

    @Test func untouchedDatabaseVerifiesIntactAndAppendedRowsVerifyIncrementally() async throws {
        try await Self.withSealed { s in
            let report = try s.verify()
            #expect(report.intact, "\(Self.describe(report))")
            #expect(report.rowsChecked > 100)
            #expect(report.digestsChecked == 2, "the database's copy and the file")
            // A second night: more calls and rows are appended, verified from the signed heads on, then sealed.
            _ = await s.h.collect()
            let incremental = try s.verify(mode: .incremental)
            #expect(incremental.intact, "\(Self.describe(incremental))")
            #expect(incremental.rowsChecked < report.rowsChecked, "only what was appended since the digest (and each signed head)")
            let second = try s.seal()
            #expect(second.digest.document.sequence == 2)
            #expect(second.digest.document.previousDigestHash != nil)
            #expect(try s.verify().intact)
            // --since: only rows chained from then on, and no false gap before them.
            let since = try s.h.db.query("SELECT max(chained_at) - interval '1 millisecond' FROM audit.api_calls").rows[0].decode(
                0, as: Date.self)
            let recent = try IntegrityVerifier(db: s.h.db, publicKey: s.key.publicKey, archive: s.archive, logger: s.h.logger)
                .verify(since: since)
            #expect(recent.intact, "\(Self.describe(recent))")
            #expect(recent.rowsChecked < report.rowsChecked)
            // The catalogue compiled into kraken-audit is the one the migration wrote.
            #expect(try ChainTable.all(on: s.h.db) == ChainTable.catalogue)
        }
    }

    @Test func amountChangedBySuperuserIsNamedWithItsColumn() async throws {
        try await Self.withSealed { s in
            let id = try s.h.db.query("SELECT ledger_id FROM audit.ledger_entries ORDER BY time LIMIT 1 OFFSET 5").rows[0]
                .decode(0, as: String.self)
            try s.tamper("UPDATE audit.ledger_entry_versions SET amount = amount + 1 WHERE ledger_id = $1", [id])
            let report = try s.verify()
            let changed = report.problems.filter { $0.kind == .rowChanged }
            #expect(changed.count == 1, "\(Self.describe(report))")
            #expect(changed.first?.table == "ledger_entries")
            #expect(changed.first?.key["ledger_id"] == id)
            #expect(changed.first?.columns == ["amount"])
            #expect(changed.first?.detail.contains(id) == true)
            #expect(changed.first?.detail.contains("amount") == true)
        }
    }

    @Test func deletedCallIsNamedWithTheGapAndItsNeighbours() async throws {
        try await Self.withSealed { s in
            let row = try s.h.db.query("SELECT id, chain_pos FROM audit.api_calls ORDER BY chain_pos LIMIT 1 OFFSET 3").rows[0]
            let (id, position) = (try row.decode(0, as: Int64.self), try row.decode(1, as: Int64.self))
            try s.tamper("DELETE FROM audit.api_calls WHERE id = $1", [id])
            let report = try s.verify()
            let deleted = report.problems.filter { $0.kind == .rowDeleted && $0.table == "api_calls" }
            #expect(deleted.count == 1, "\(Self.describe(report))")
            #expect(
                deleted.first?.detail.contains("position \(position) is missing after position \(position - 1)") == true,
                "\(Self.describe(report))")
            #expect(deleted.first?.position == position + 1, "named by the row after the gap")
        }
    }

    @Test func forgedRowsAreInsertedOutOfBand() async throws {
        try await Self.withSealed { s in
            // Without chain data (as a plain INSERT with the triggers off would leave it, were the columns nullable)
            // the NOT NULL constraints refuse it; a forger must invent a link: position after the head, any hash.
            try s.tamper(
                """
                INSERT INTO audit.ledger_entry_versions (account_id, ledger_id, refid, time, type, asset, amount, fee, balance, raw,
                                                         chain_account, chain_pos, prev_hash, row_hash, chained_at)
                SELECT account_id, 'LFORGE-D0000-000001', 'TFORGE', now(), 'withdrawal', 'XXBT', -5, 0, 0, '{}', chain_account,
                       chain_pos + 1, row_hash, sha256('forged'), now()
                  FROM audit.ledger_entry_versions ORDER BY chain_pos DESC LIMIT 1
                """)
            let report = try s.verify()
            let forged = report.problems.filter { $0.kind == .rowInsertedOutOfBand }
            #expect(forged.count == 1, "\(Self.describe(report))")
            #expect(forged.first?.key["ledger_id"] == "LFORGE-D0000-000001")
            #expect(!report.problems.contains { $0.kind == .rowChanged }, "a forged row is not reported as a changed one")
        }
    }

    @Test func chainRebuiltFromScratchFailsTheSignedDigest() async throws {
        try await Self.withSealed { s in
            let id = try s.h.db.query("SELECT ledger_id FROM audit.ledger_entries ORDER BY time LIMIT 1 OFFSET 2").rows[0]
                .decode(0, as: String.self)
            // The insider knows the encoding (it is documented) and recomputes every link after the change.
            let table = try #require(try ChainTable.all(on: s.h.db).first { $0.chain == "ledger_entries" })
            let encoding = try ChainEncoding.rowEncoding(table, row: "r")
            try s.tamper("UPDATE audit.ledger_entry_versions SET amount = amount * 10 WHERE ledger_id = $1", [id])
            try s.tamper(
                """
                UPDATE audit.ledger_entry_versions x SET row_hash = h.row_hash,
                       prev_hash = coalesce(h.prev, '\\x\(ChainEncoding.zeroHash)'::bytea)
                  FROM (SELECT ctid, row_hash, lag(row_hash) OVER (PARTITION BY chain_account ORDER BY chain_pos) AS prev
                          FROM (SELECT ctid, chain_account, chain_pos,
                                       audit.chain_hash_run(enc) OVER (PARTITION BY chain_account ORDER BY chain_pos
                                                                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS row_hash
                                  FROM (SELECT ctid, chain_account, chain_pos, \(encoding) AS enc
                                          FROM audit.ledger_entry_versions r) e) hh) h
                 WHERE x.ctid = h.ctid
                """)
            try s.tamper(
                """
                UPDATE audit.chain_heads h SET head_hash = l.row_hash
                  FROM (SELECT DISTINCT ON (chain_account) chain_account, row_hash FROM audit.ledger_entry_versions
                         ORDER BY chain_account, chain_pos DESC) l
                 WHERE h.chain = 'ledger_entries' AND h.account_id = l.chain_account
                """)
            let chains = try ChainVerifier(db: s.h.db).verify()
            #expect(chains.problems.isEmpty, "the rebuilt chain is consistent in itself: \(chains.problems)")
            let report = try s.verify()
            let rebuilt = report.problems.filter { $0.kind == .chainRebuilt }
            #expect(rebuilt.count == 1, "\(Self.describe(report))")
            #expect(rebuilt.first?.table == "ledger_entries")
            #expect(rebuilt.first?.detail.contains("digest 1") == true)
            #expect(report.proofs.compactMap { $0 }.first?.sequence == 1, "the finding names the digest that proves it")
        }
    }

    @Test func replacedOrEditedDigestFileIsCaught() async throws {
        try await Self.withSealed { s in
            let stored = try #require(try s.archive.readAll().first?.digest)
            let path = s.archive.path(for: stored)
            // Replaced: the same document signed by another key.
            let forger = try Ed25519PrivateKey.generate()
            var document = stored.document
            document.publicKeyFingerprint = forger.publicKey.fingerprint
            let replaced = try SignedDigest.sign(document, with: forger)
            try Data(replaced.fileBytes()).write(to: URL(fileURLWithPath: path))
            var report = try s.verify()
            #expect(
                report.problems.contains { $0.kind == .digestInvalid && $0.detail.contains(path) && $0.detail.contains("does not verify") },
                "\(Self.describe(report))")
            // Edited: one character of the signed document changed.
            var bytes = stored.fileBytes()
            let i = try #require(bytes.firstIndex(of: UInt8(ascii: "0")))
            bytes[i] = UInt8(ascii: "1")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            report = try s.verify()
            #expect(report.problems.contains { $0.kind == .digestInvalid && $0.detail.contains(path) }, "\(Self.describe(report))")
            // Missing.
            try FileManager.default.removeItem(atPath: path)
            report = try s.verify()
            #expect(report.problems.contains { $0.kind == .digestInvalid && $0.detail.contains("missing") }, "\(Self.describe(report))")
        }
    }

    @Test func olderBackupRestoredIsCaughtAgainstTheDigestFiles() async throws {
        try await Self.withSealed { s in
            let dump = FileManager.default.temporaryDirectory.appendingPathComponent("ka-backup-\(UUID().uuidString).dump").path
            defer { try? FileManager.default.removeItem(atPath: dump) }
            let environment = ProcessInfo.processInfo.environment
            let saved = try ChildProcess.run(
                "/usr/bin/env", arguments: ["pg_dump", "--format=custom", "--file", dump, "--dbname", s.h.database.url],
                environment: environment, timeout: 120)
            #expect(saved.termination == .exited(0), "\(saved.output)")
            // The next night appends more and seals digest 2.
            _ = await s.h.collect()
            _ = try s.seal()
            #expect(try s.verify().intact)
            // The backup from before digest 2 is restored.
            let restored = try TestDatabase("tamperrestore")
            let loaded = try ChildProcess.run(
                "/usr/bin/env", arguments: ["pg_restore", "--no-owner", "--dbname", restored.url, dump], environment: environment,
                timeout: 120)
            #expect(loaded.termination == .exited(0), "\(loaded.output)")
            let db = try restored.connect()
            defer { db.close() }
            let report = try s.verify(db)
            #expect(
                report.problems.contains {
                    $0.kind == .digestInvalid && $0.detail.contains("digest 2") && $0.detail.contains("not in the database")
                },
                "\(Self.describe(report))")
            #expect(
                report.problems.contains { $0.kind == .chainTruncated && $0.table == "api_calls" && $0.detail.contains("digest 2") },
                "\(Self.describe(report))")
        }
    }

    @Test func aSealKilledAfterItsCommitHasItsFileWrittenByTheNextSeal() async throws {
        try await Self.withSealed { s in
            let first = try #require(try s.archive.readAll().first?.digest)
            try FileManager.default.removeItem(atPath: s.archive.path(for: first))
            let second = try s.seal()
            #expect(second.recovered == [s.archive.path(for: first)])
            #expect(try s.verify().intact)
        }
    }

    @Test func nightlyCheckTurnsTamperingIntoOneCriticalFinding() async throws {
        try await Self.withSealed { s in
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ka-key-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try s.key.write(to: directory + "/digest.key")
            let integrity = IntegrityConfig(signingKeyFile: directory + "/digest.key", digestDir: s.archive.directory)
            let analyser = try Analyser(
                config: s.h.config, catalogue: try RuleCatalogue(directory: TestDatabase.sqlDirectory.appendingPathComponent("rules")),
                logger: s.h.logger, options: AnalyserOptions(alerts: nil))
            func tampered() throws -> [[String]] {
                try s.h.db.query(
                    "SELECT severity, title, evidence->>'digest_sequence' FROM audit.findings WHERE rule_id = 'audit_tampered'"
                )
                .rows.map {
                    [try $0.decode(0, as: String.self), try $0.decode(1, as: String.self), try $0.decodeOptional(2, as: String.self) ?? ""]
                }
            }
            // Near miss: an intact database (first night: a full pass) gives no finding.
            let first = try IntegrityJob.nightlyVerify(integrity, db: s.h.db, runId: nil, logger: s.h.logger)
            #expect(first.intact && first.mode == .full, "\(Self.describe(first))")
            _ = try analyser.analyse(on: s.h.db)
            #expect(try tampered().isEmpty)
            // The next night appends calls; one of them is changed before the nightly check (an incremental one).
            _ = await s.h.collect()
            try s.tamper(
                "UPDATE audit.api_calls SET duration_ms = duration_ms + 1000 WHERE chain_pos = (SELECT max(chain_pos) FROM audit.api_calls)"
            )
            let second = try IntegrityJob.nightlyVerify(integrity, db: s.h.db, runId: nil, logger: s.h.logger)
            #expect(second.mode == .incremental)
            #expect(second.problems.map(\.kind) == [.rowChanged], "\(Self.describe(second))")
            _ = try analyser.analyse(on: s.h.db)
            let findings = try tampered()
            #expect(findings.count == 1, "\(findings)")
            #expect(findings.first?[0] == "critical")
            #expect(findings.first?[1].contains("api_calls") == true, "\(findings)")
            // Found again the next night: still one finding.
            _ = try IntegrityJob.nightlyVerify(integrity, db: s.h.db, runId: nil, logger: s.h.logger)
            _ = try analyser.analyse(on: s.h.db)
            #expect(try tampered().count == 1)
            // doctor: the key, the directory and the last seal; a key others can read fails.
            let doctor = Doctor(environment: AuditEnvironment(config: s.h.config, logger: s.h.logger))
            let checks = doctor.checkIntegrity(integrity, db: s.h.db)
            #expect(checks.map(\.status) == [.ok, .ok, .ok], "\(checks)")
            #expect(checks.first?.detail.contains(s.key.publicKey.fingerprint) == true)
            #expect(checks.last?.detail.contains("last digest 1 sealed") == true, "\(checks)")
            chmod(directory + "/digest.key", 0o644)
            let exposed = doctor.checkIntegrity(integrity, db: s.h.db)
            #expect(exposed.first?.status == .failed && exposed.first?.detail.contains("digest.key") == true, "\(exposed)")
        }
    }

    @Test func chainPointedAtAnUntouchedCopyIsCaughtAndTheRealRowsStillChecked() async throws {
        try await Self.withSealed { s in
            let id = try s.h.db.query("SELECT ledger_id FROM audit.ledger_entries ORDER BY time LIMIT 1 OFFSET 4").rows[0]
                .decode(0, as: String.self)
            try s.tamper("CREATE TABLE audit.shadow AS SELECT * FROM audit.ledger_entry_versions")
            try s.tamper("UPDATE audit.chain_tables SET relation = 'shadow' WHERE chain = 'ledger_entries'")
            try s.tamper("UPDATE audit.ledger_entry_versions SET amount = 999 WHERE ledger_id = $1", [id])
            let report = try s.verify()
            #expect(report.problems.contains { $0.kind == .catalogueAltered && $0.detail.contains("shadow") }, "\(Self.describe(report))")
            #expect(report.problems.contains { $0.kind == .rowChanged && $0.key["ledger_id"] == id }, "\(Self.describe(report))")
        }
    }

    @Test func beforeTheFirstSealNoDigestDirectoryIsNeeded() async throws {
        try await withSimulatedCollection(Self.setup) { h in
            _ = await h.collect()
            let missing = FileManager.default.temporaryDirectory.appendingPathComponent("ka-none-\(UUID().uuidString)").path
            let report = try IntegrityVerifier(
                db: h.db, publicKey: try Ed25519PrivateKey.generate().publicKey, archive: DigestArchive(directory: missing),
                logger: h.logger
            ).verify()
            #expect(report.intact, "\(Self.describe(report))")
            #expect(report.rowsChecked > 0)
        }
    }

    @Test func rowsBelowPositionOneAreNotSkipped() async throws {
        try await Self.withSealed { s in
            // A forged entry outside the positions a chain uses (review finding: such rows were never read).
            try s.tamper(
                """
                INSERT INTO audit.ledger_entry_versions (account_id, ledger_id, refid, time, type, asset, amount, fee, balance, raw,
                                                         chain_account, chain_pos, prev_hash, row_hash, chained_at)
                SELECT account_id, 'LBELOW-D0000-000001', 'TBELOW', now(), 'withdrawal', 'XXBT', -5, 0, 0, '{}', chain_account,
                       -100, '\\x', '\\x', now()
                  FROM audit.ledger_entry_versions LIMIT 1
                """)
            for mode in [IntegrityVerifier.Mode.full, .incremental] {
                let report = try s.verify(mode: mode)
                #expect(
                    report.problems.map(\.kind) == [.rowInsertedOutOfBand]
                        && report.problems.first?.key["ledger_id"] == "LBELOW-D0000-000001",
                    "\(mode): \(Self.describe(report))")
            }
        }
    }

    @Test func aDigestRowNotSignedByTheKeyNeitherStopsSealingNorPasses() async throws {
        try await Self.withSealed { s in
            try s.h.db.execute(
                """
                INSERT INTO audit.digests (sequence, created_at, digest_hash, previous_hash, document, signature, public_key,
                                           key_fingerprint, file_name)
                SELECT 2, now(), sha256('x'), digest_hash, 'not a digest', sha256('a') || sha256('b'), '', '', 'x.json'
                  FROM audit.digests WHERE sequence = 1
                """)
            let next = try s.seal()
            #expect(next.digest.document.sequence == 3)
            #expect(next.recovered.isEmpty, "a row this key did not sign is never copied out")
            let report = try s.verify()
            #expect(
                report.problems.contains { $0.kind == .digestInvalid && $0.detail.contains("digest 2 is unreadable") },
                "\(Self.describe(report))")
        }
    }

}
