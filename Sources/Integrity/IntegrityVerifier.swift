import AuditKernel
import AuditStore
import Foundation
import Logging

/// `kraken-audit verify`: recomputes every hash chain from its rows (``ChainVerifier``), checks every signed digest
/// (database copies and files: signature, sequence, the link to the previous digest, file against database copy),
/// and checks that each chain still passes through the head the newest digest signed for it.
///
/// Why the newest digest per chain is enough: the chain check recomputes every link from position 1, so a chain
/// that verifies and still holds the newest signed head at its signed position holds every earlier signed head
/// too (each is linked into it by SHA-256). A rebuilt chain cannot hold a signed head without the signing key.
public struct IntegrityVerifier {
    public enum Mode: String, Sendable, Codable {
        /// Every row of every chain.
        case full
        /// Only what was appended since the newest digest (from each chain's signed head on), and the digests.
        case incremental
    }

    /// What was checked and found. `intact` is true when nothing was found.
    public struct Report: Sendable, Codable {
        public var mode: Mode
        public var intact: Bool { problems.isEmpty }
        public var rowsChecked: Int64
        public var chainsChecked: Int
        public var digestsChecked: Int
        public var newestDigest: Int64?
        public var publicKeyFingerprint: String
        public var digestDirectory: String?
        public var problems: [ChainProblem]
        /// Sequence and file of the digest that proves each problem, parallel to `problems` (nil when none does).
        public var proofs: [Proof?]

        public struct Proof: Sendable, Codable, Equatable {
            public var sequence: Int64
            public var file: String?
        }

        enum CodingKeys: String, CodingKey {
            case mode, intact
            case rowsChecked = "rows_checked"
            case chainsChecked = "chains_checked"
            case digestsChecked = "digests_checked"
            case newestDigest = "newest_digest"
            case publicKeyFingerprint = "public_key_fingerprint"
            case digestDirectory = "digest_directory"
            case problems, proofs
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(mode, forKey: .mode)
            try c.encode(intact, forKey: .intact)
            try c.encode(rowsChecked, forKey: .rowsChecked)
            try c.encode(chainsChecked, forKey: .chainsChecked)
            try c.encode(digestsChecked, forKey: .digestsChecked)
            try c.encode(newestDigest, forKey: .newestDigest)
            try c.encode(publicKeyFingerprint, forKey: .publicKeyFingerprint)
            try c.encode(digestDirectory, forKey: .digestDirectory)
            try c.encode(problems, forKey: .problems)
            try c.encode(proofs, forKey: .proofs)
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            mode = try c.decode(Mode.self, forKey: .mode)
            rowsChecked = try c.decode(Int64.self, forKey: .rowsChecked)
            chainsChecked = try c.decode(Int.self, forKey: .chainsChecked)
            digestsChecked = try c.decode(Int.self, forKey: .digestsChecked)
            newestDigest = try c.decodeIfPresent(Int64.self, forKey: .newestDigest)
            publicKeyFingerprint = try c.decode(String.self, forKey: .publicKeyFingerprint)
            digestDirectory = try c.decodeIfPresent(String.self, forKey: .digestDirectory)
            problems = try c.decode([ChainProblem].self, forKey: .problems)
            proofs = try c.decode([Proof?].self, forKey: .proofs)
        }

        init(mode: Mode, publicKeyFingerprint: String, digestDirectory: String?) {
            self.mode = mode
            self.rowsChecked = 0
            self.chainsChecked = 0
            self.digestsChecked = 0
            self.publicKeyFingerprint = publicKeyFingerprint
            self.digestDirectory = digestDirectory
            self.problems = []
            self.proofs = []
        }

        mutating func add(_ problem: ChainProblem, proof: Proof? = nil) {
            problems.append(problem)
            proofs.append(proof)
        }
    }

    let db: PGConnection
    let publicKey: Ed25519PublicKey
    let archive: DigestArchive?
    let logger: Logger

    public init(db: PGConnection, publicKey: Ed25519PublicKey, archive: DigestArchive?, logger: Logger) {
        self.db = db
        self.publicKey = publicKey
        self.archive = archive
        self.logger = logger
    }

    /// Verifies. `accountIds` limits the chains to those accounts (digests are always checked whole); `since`
    /// limits the rows to those chained from then on.
    public func verify(mode: Mode = .full, accountIds: Set<Int>? = nil, since: Date? = nil) throws -> Report {
        // One consistent view: rows appended, or a seal committed, while this runs must not look like tampering.
        // A seal holds the files lock until its file is written; a shared hold here waits for that.
        _ = try db.query("SELECT pg_advisory_lock_shared($1)", [Sealer.filesLockKey])
        defer { _ = try? db.query("SELECT pg_advisory_unlock_shared($1)", [Sealer.filesLockKey]) }
        try db.executeScript("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        defer { try? db.executeScript("COMMIT") }
        return try verifySnapshot(mode: mode, accountIds: accountIds, since: since)
    }

    private func verifySnapshot(mode: Mode, accountIds: Set<Int>?, since: Date?) throws -> Report {
        var report = Report(mode: mode, publicKeyFingerprint: publicKey.fingerprint, digestDirectory: archive?.directory)
        let digests = try checkDigests(into: &report)
        report.newestDigest = digests.keys.max()
        // The newest signed head of each chain (and the digest that signed it).
        var signed: [ChainVerifier.ChainKey: (head: ChainHead, digest: SignedDigest)] = [:]
        for sequence in digests.keys.sorted(by: >) {
            let digest = digests[sequence]!
            for head in digest.document.chains where accountIds?.contains(head.accountId) ?? true {
                let key = ChainVerifier.ChainKey(chain: head.table, accountId: head.accountId)
                if signed[key] == nil { signed[key] = (head, digest) }
            }
        }
        // The chains are read by the catalogue compiled into this binary; the database's copy is only compared.
        let tables = ChainTable.catalogue
        checkCatalogue(into: &report)
        let chains = ChainVerifier(db: db)
        let from: [ChainVerifier.ChainKey: Int64] = mode == .incremental ? signed.mapValues { $0.head.rows } : [:]
        let result = try chains.verify(tables: tables, accountIds: accountIds, from: from, since: since)
        report.rowsChecked = result.rowsChecked
        report.chainsChecked = result.tails.count
        for problem in result.problems { report.add(problem) }
        // Each chain still passes through its newest signed head.
        let byChain = Dictionary(uniqueKeysWithValues: tables.map { ($0.chain, $0) })
        for (key, (head, digest)) in signed.sorted(by: { ($0.key.accountId, $0.key.chain) < ($1.key.accountId, $1.key.chain) }) {
            guard let table = byChain[head.table] else {
                report.add(
                    ChainProblem(
                        kind: .chainTruncated, table: head.table, accountId: head.accountId, account: head.account,
                        detail: "digest \(digest.document.sequence) signed table \(head.table), which the database no longer chains"),
                    proof: proof(digest))
                continue
            }
            let stored = try chains.rowHash(key, position: head.rows, table: table)
            let tail = result.tails[key]
            if stored == nil {
                let has = tail.map { "has \($0.position) rows" } ?? "is empty"
                report.add(
                    ChainProblem(
                        kind: .chainTruncated, table: head.table, accountId: head.accountId, account: head.account,
                        position: head.rows,
                        detail:
                            "\(head.table) of account \(head.account) \(has), but digest \(digest.document.sequence) (\(digest.document.createdAt)) signed \(head.rows): rows were removed after it was sealed, or the database was restored from an older backup"
                    ), proof: proof(digest))
            } else if stored != head.headHash {
                report.add(
                    ChainProblem(
                        kind: .chainRebuilt, table: head.table, accountId: head.accountId, account: head.account, position: head.rows,
                        detail:
                            "\(head.table) of account \(head.account): the row at position \(head.rows) no longer has the hash digest \(digest.document.sequence) (\(digest.document.createdAt)) signed: the chain was rebuilt (rows changed and re-hashed) after it was sealed"
                    ), proof: proof(digest))
            }
        }
        try checkHeadRecords(result, accountIds: accountIds, since: since, into: &report)
        return report
    }

    /// The database's chain catalogue against the compiled one.
    private func checkCatalogue(into report: inout Report) {
        func problem(_ chain: String, _ detail: String) {
            report.add(ChainProblem(kind: .catalogueAltered, table: chain, detail: detail))
        }
        let stored: [ChainTable]
        do {
            stored = try ChainTable.all(on: db)
        } catch {
            problem("chain_tables", "the database's chain catalogue cannot be read as kraken-audit wrote it: \(error)")
            return
        }
        let byChain = Dictionary(stored.map { ($0.chain, $0) }, uniquingKeysWith: { a, _ in a })
        for expected in ChainTable.catalogue {
            guard let found = byChain[expected.chain] else {
                problem(expected.chain, "audit.chain_tables no longer lists chain \(expected.chain)")
                continue
            }
            if found.relation != expected.relation {
                problem(
                    expected.chain,
                    "audit.chain_tables points chain \(expected.chain) at table \(found.relation) instead of \(expected.relation): verified from \(expected.relation) regardless"
                )
            }
            if found.columns != expected.columns || found.keyColumns != expected.keyColumns {
                let columns = found.columns.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
                problem(
                    expected.chain,
                    "the chained columns of \(expected.chain) differ from kraken-audit's (encoding order or types changed): \(columns)")
            }
        }
        for extra in stored where !ChainTable.catalogue.contains(where: { $0.chain == extra.chain }) {
            problem(extra.chain, "audit.chain_tables lists a chain kraken-audit does not know: \(extra.chain)")
        }
    }

    private func proof(_ digest: SignedDigest) -> Report.Proof {
        Report.Proof(sequence: digest.document.sequence, file: archive.map { $0.path(for: digest) })
    }

    /// The chain head records (written by the triggers) agree with each chain's last row.
    private func checkHeadRecords(
        _ result: ChainVerifier.Result, accountIds: Set<Int>?, since: Date?, into report: inout Report
    ) throws {
        guard since == nil else { return }
        let names = Dictionary(
            uniqueKeysWithValues: try db.query("SELECT id, name FROM audit.accounts").rows.map {
                (try $0.decode(0, as: Int.self), try $0.decode(1, as: String.self))
            })
        for row in try db.query("SELECT account_id, chain, position, encode(head_hash, 'hex') FROM audit.chain_heads WHERE position > 0")
            .rows
        {
            let key = ChainVerifier.ChainKey(chain: try row.decode(1, as: String.self), accountId: try row.decode(0, as: Int.self))
            guard accountIds?.contains(key.accountId) ?? true else { continue }
            let position = try row.decode(2, as: Int64.self)
            let tailPosition = result.tails[key]?.position ?? 0
            let recordedHash = try row.decode(3, as: String.self)
            if tailPosition == position, let tail = result.tails[key], tail.hash != recordedHash {
                report.add(
                    ChainProblem(
                        kind: .chainRebuilt, table: key.chain, accountId: key.accountId, account: names[key.accountId], position: position,
                        detail:
                            "\(key.chain) of account \(names[key.accountId] ?? "(no account)"): the last row (position \(position)) no longer has the hash its head record says: it was changed and re-hashed"
                    ))
            } else if tailPosition < position {
                report.add(
                    ChainProblem(
                        kind: .chainTruncated, table: key.chain, accountId: key.accountId, account: names[key.accountId],
                        position: position,
                        detail:
                            "\(key.chain) of account \(names[key.accountId] ?? "(no account)") ends at position \(tailPosition), but its head record says \(position): the last rows were removed"
                    ))
            }
        }
    }

    /// Reads and checks every digest (database copies and files). Returns the valid ones by sequence.
    private func checkDigests(into report: inout Report) throws -> [Int64: SignedDigest] {
        var valid: [Int64: SignedDigest] = [:]
        var stored: [Int64: SignedDigest] = [:]
        func problem(_ detail: String, sequence: Int64? = nil) {
            report.add(ChainProblem(kind: .digestInvalid, table: "digests", position: sequence, detail: detail))
        }
        for row in try db.query("SELECT sequence, document FROM audit.digests ORDER BY sequence").rows {
            let sequence = try row.decode(0, as: Int64.self)
            report.digestsChecked += 1
            do {
                let digest = try SignedDigest.parse(fileBytes: Array(try row.decode(1, as: String.self).utf8))
                guard digest.document.sequence == sequence else {
                    problem(
                        "the database's digest \(sequence) holds the document of digest \(digest.document.sequence)", sequence: sequence)
                    continue
                }
                guard digest.isValid(publicKey: publicKey) else {
                    problem(
                        "the database's digest \(sequence) does not verify with public key \(publicKey.fingerprint): it was altered, or signed with another key",
                        sequence: sequence)
                    continue
                }
                stored[sequence] = digest
                valid[sequence] = digest
            } catch let error as IntegrityError {
                problem("the database's digest \(sequence) is unreadable: \(error)", sequence: sequence)
            }
        }
        // This database's identity as its own digests name it (a backup restored elsewhere keeps its origin's),
        // else the server's.
        let identity =
            try stored.values.max(by: { $0.document.sequence < $1.document.sequence })?.document.database
            ?? db.query("SELECT (SELECT system_identifier::text FROM pg_control_system()) || '/' || current_database()")
            .rows[0].decode(0, as: String.self)
        // A directory not created yet (no seal so far) holds no digest; a missing file is reported per digest below.
        if let archive, FileManager.default.fileExists(atPath: archive.directory) {
            var files: [Int64: String] = [:]
            for file in try archive.readAll() {
                // Another database's digests may share the directory: not this database's evidence.
                if let digest = file.digest, digest.document.database != identity { continue }
                report.digestsChecked += 1
                guard let digest = file.digest else {
                    problem("digest file \(file.path) is altered or unreadable: \(file.error.map { "\($0)" } ?? "")")
                    continue
                }
                let sequence = digest.document.sequence
                guard digest.isValid(publicKey: publicKey) else {
                    problem(
                        "digest file \(file.path) does not verify with public key \(publicKey.fingerprint): it was altered or replaced",
                        sequence: sequence)
                    continue
                }
                if !file.isWhereItBelongs {
                    problem(
                        "digest file \(file.path) is not where digest \(sequence) belongs (\(digest.relativePath)): it was renamed or moved",
                        sequence: sequence)
                }
                files[sequence] = file.path
                if let copy = stored[sequence] {
                    if copy.digestHash != digest.digestHash {
                        problem(
                            "digest \(sequence): the file \(file.path) and the database's copy differ (both are signed: two seals used one sequence number?)",
                            sequence: sequence)
                    }
                } else {
                    problem(
                        "digest \(sequence) (file \(file.path)) is not in the database: the database is older than that digest (restored from a backup) or its row was removed",
                        sequence: sequence)
                }
                valid[sequence] = digest
            }
            for (sequence, digest) in stored.sorted(by: { $0.key < $1.key }) where files[sequence] == nil {
                problem(
                    "digest \(sequence)'s file is missing from \(archive.directory) (expected \(archive.path(for: digest)))",
                    sequence: sequence)
            }
        } else if let archive {
            for (sequence, digest) in stored.sorted(by: { $0.key < $1.key }) {
                problem(
                    "digest \(sequence)'s file is missing: \(archive.directory) does not exist (expected \(archive.path(for: digest)))",
                    sequence: sequence)
            }
        }
        // The digests form one chain: 1, 2, 3, ... each naming its predecessor's hash.
        let sequences = valid.keys.sorted()
        for (i, sequence) in sequences.enumerated() {
            let digest = valid[sequence]!
            let expected = i == 0 ? Int64(1) : sequences[i - 1] + 1
            if sequence != expected {
                problem(
                    "digests \(expected)-\(sequence - 1) are missing (neither in the database nor in the digest directory)",
                    sequence: sequence)
            } else if i > 0, digest.document.previousDigestHash != valid[sequences[i - 1]]!.digestHash {
                problem(
                    "digest \(sequence) does not name digest \(sequences[i - 1]) as its predecessor: the digest chain was rebuilt",
                    sequence: sequence)
            }
        }
        return valid
    }
}
