import AuditKernel
import AuditStore
import Foundation
import Logging

/// `kraken-audit seal` (also the end of every `run`): signs a digest of every hash chain's head (position, hash,
/// time range) chained to the previous digest, stores it in `audit.digests`, writes it as a file to
/// `[integrity] digest_dir` and hands that file to `[integrity] hook`.
///
/// Order, so that a kill at any point loses nothing: the digest row is committed first (under a transaction-level
/// advisory lock, so two seals never take one sequence number); the file is written afterwards. A seal that
/// finds a committed digest without its file writes that file first (``recoverFiles()``), so the directory always
/// catches up with the database, and never holds a digest the database lacks.
public struct Sealer {
    /// What one seal did.
    public struct Sealed: Sendable {
        public var digest: SignedDigest
        /// The file written to the digest directory.
        public var path: String
        /// Files of earlier digests that were missing (a seal killed after its commit) and were written now.
        public var recovered: [String]
        /// The hook's output, when a hook ran.
        public var hookOutput: String?
    }

    let db: PGConnection
    let key: Ed25519PrivateKey
    let archive: DigestArchive
    let hook: DigestHook?
    let logger: Logger

    public init(db: PGConnection, key: Ed25519PrivateKey, archive: DigestArchive, hook: DigestHook?, logger: Logger) {
        self.db = db
        self.key = key
        self.archive = archive
        self.hook = hook
        self.logger = logger
    }

    /// Seals the chains as they are now.
    /// Held (session level) by a seal from before its commit until its file is written and handed to the hook;
    /// `verify` takes it shared while it reads the digests, so it never sees a committed digest without its file.
    public static let filesLockKey: Int64 = 0x6B72_616B_0073_6561

    public func seal() throws -> Sealed {
        try db.advisoryLock(Self.filesLockKey)
        defer { _ = try? db.advisoryUnlock(Self.filesLockKey) }
        let recovered = try recoverFiles()
        let digest = try db.transaction { () throws -> SignedDigest in
            // One seal at a time: the sequence and the previous digest's hash are read and written under this lock.
            _ = try db.query("SELECT pg_advisory_xact_lock(hashtext('kraken-audit seal'))")
            let meta = try db.query(
                """
                SELECT (SELECT system_identifier::text FROM pg_control_system()) || '/' || current_database(),
                       to_char(s.chains_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                       (SELECT max(sequence) FROM audit.digests),
                       (SELECT encode(digest_hash, 'hex') FROM audit.digests ORDER BY sequence DESC LIMIT 1),
                       clock_timestamp()
                  FROM audit.integrity_state s
                """
            ).rows
            guard let row = meta.first else { throw ChainError.notMigrated }
            let previous = try row.decodeOptional(2, as: Int64.self)
            let document = DigestDocument(
                format: DigestDocument.currentFormat, database: try row.decode(0, as: String.self), sequence: (previous ?? 0) + 1,
                createdAt: DigestDocument.timestamp(try row.decode(4, as: Date.self)),
                previousDigestHash: try row.decodeOptional(3, as: String.self),
                integritySince: try row.decode(1, as: String.self), publicKeyFingerprint: key.publicKey.fingerprint,
                chains: DigestDocument.sorted(try heads()))
            let signed = try SignedDigest.sign(document, with: key)
            try db.execute(
                """
                INSERT INTO audit.digests (sequence, created_at, digest_hash, previous_hash, document, signature, public_key,
                                           key_fingerprint, file_name)
                VALUES ($1, $2::timestamptz, decode($3, 'hex'), decode($4, 'hex'), $5, decode($6, 'hex'), $7, $8, $9)
                """,
                [
                    document.sequence, document.createdAt, signed.digestHash, document.previousDigestHash,
                    String(decoding: signed.fileBytes(), as: UTF8.self), Self.hex(signed.signature), key.publicKey.pemRepresentation,
                    key.publicKey.fingerprint, signed.fileName,
                ])
            return signed
        }
        let path = try archive.write(digest)
        logger.info(
            "sealed digest",
            metadata: [
                "sequence": "\(digest.document.sequence)", "chains": "\(digest.document.chains.count)", "file": "\(path)",
                "digest_hash": "\(digest.digestHash)",
            ])
        let hookOutput = try hook.map { hook throws -> String in try hook.run(digestFile: path, logger: logger) }
        return Sealed(digest: digest, path: path, recovered: recovered, hookOutput: hookOutput)
    }

    /// Writes the files of stored digests that the directory lacks (a seal killed between its commit and its file).
    public func recoverFiles() throws -> [String] {
        var written: [String] = []
        for row in try db.query("SELECT sequence, document FROM audit.digests ORDER BY sequence").rows {
            // A row that is not a digest signed by this key (written by someone else) is never copied out or handed
            // to the hook; verify reports it.
            guard let digest = try? SignedDigest.parse(fileBytes: Array(try row.decode(1, as: String.self).utf8)),
                digest.isValid(publicKey: key.publicKey)
            else {
                let sequence = try row.decode(0, as: Int64.self)
                logger.warning(
                    "a stored digest is not one this key signed; not copied (kraken-audit verify reports it)",
                    metadata: ["sequence": "\(sequence)"])
                continue
            }
            if !FileManager.default.fileExists(atPath: archive.path(for: digest)) {
                written.append(try archive.write(digest))
                logger.warning("wrote a digest file that was missing", metadata: ["sequence": "\(digest.document.sequence)"])
                if let hook { _ = try hook.run(digestFile: archive.path(for: digest), logger: logger) }
            }
        }
        return written
    }

    /// Every chain's head as the table holds it (its last row), with the account's name and the chain's time range.
    func heads() throws -> [ChainHead] {
        var heads: [ChainHead] = []
        for table in ChainTable.catalogue {
            let relation = "audit.\"\(table.relation)\""
            let rows = try db.query(
                """
                SELECT h.account_id, coalesce(a.name, '(no account)'), t.chain_pos, encode(t.row_hash, 'hex'),
                       to_char(f.chained_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                       to_char(t.chained_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                  FROM audit.chain_heads h
                  LEFT JOIN audit.accounts a ON a.id = h.account_id
                 CROSS JOIN LATERAL (SELECT r.chain_pos, r.row_hash, r.chained_at FROM \(relation) r
                                      WHERE r.chain_account = h.account_id ORDER BY r.chain_pos DESC LIMIT 1) t
                  LEFT JOIN LATERAL (SELECT r.chained_at FROM \(relation) r
                                      WHERE r.chain_account = h.account_id AND r.chain_pos = 1) f ON true
                 WHERE h.chain = $1
                """, [table.chain]
            ).rows
            for row in rows {
                heads.append(
                    ChainHead(
                        accountId: try row.decode(0, as: Int.self), account: try row.decode(1, as: String.self), table: table.chain,
                        rows: try row.decode(2, as: Int64.self), headHash: try row.decode(3, as: String.self),
                        firstAt: try row.decodeOptional(4, as: String.self), lastAt: try row.decodeOptional(5, as: String.self)))
            }
        }
        return heads
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
