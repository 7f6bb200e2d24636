/// Why a signing key, a digest or the digest archive could not be used: each case says what happened and what to do.
public enum IntegrityError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The key file does not exist.
    case keyFileMissing(path: String)
    /// The key file exists but cannot be read (or is not a regular file).
    case keyFileUnreadable(path: String, reason: String)
    /// The private key file is readable by group or others (`mode` as `0644`).
    case keyFileNotPrivate(path: String, mode: String)
    /// The private key file belongs to another user.
    case keyFileOwner(path: String, owner: UInt32, expected: UInt32)
    /// `keygen` or ``Ed25519PrivateKey/write(to:)`` would overwrite an existing file.
    case keyFileExists(path: String)
    /// A key file could not be created or written.
    case keyFileWrite(path: String, reason: String)
    /// Key bytes or PEM text that is not an Ed25519 key (`source` names the file, or "key bytes").
    case invalidKey(source: String, reason: String)
    /// libcrypto failed an operation that cannot fail on valid input (key generation, signing).
    case crypto(operation: String, reason: String)
    /// A digest document that cannot be signed or was read back wrong (`path` nil when parsed from memory).
    case malformedDigest(path: String?, reason: String)
    /// The digest's public key fingerprint is not the signing key's.
    case fingerprintMismatch(document: String, key: String)
    /// A value the canonical JSON subset cannot hold (a fraction, an exponent, an integer beyond ±(2⁵³−1), a
    /// duplicate member name).
    case notCanonicalizable(reason: String)
    /// The digest directory (or a directory below it) cannot be created, listed or written.
    case digestDirectory(path: String, reason: String)
    /// A digest file cannot be written or read.
    case digestFileIO(path: String, reason: String)
    /// A different digest already has this file name: never overwritten.
    case digestFileConflict(path: String)
    /// `[integrity] hook` is not an executable file.
    case hookNotExecutable(path: String)
    /// `[integrity] hook` could not be started, exited non-zero or was killed.
    case hookFailed(hook: String, digestFile: String, reason: String)
    /// `[integrity] hook` ran longer than its timeout and was killed.
    case hookTimedOut(hook: String, digestFile: String, seconds: Double)

    public var description: String {
        switch self {
        case .keyFileMissing(let path):
            return "key file \(path) does not exist: create one with `kraken-audit keygen --out \(path)` or fix the path"
        case .keyFileUnreadable(let path, let reason):
            return "cannot read key file \(path): \(reason)"
        case .keyFileNotPrivate(let path, let mode):
            return "signing key file \(path) is accessible by group or others (mode \(mode)): run `chmod 600 \(path)`"
        case .keyFileOwner(let path, let owner, let expected):
            return
                "signing key file \(path) is owned by uid \(owner), not by the user running kraken-audit (uid \(expected)): run `chown \(expected) \(path)`"
        case .keyFileExists(let path):
            return "\(path) already exists: kraken-audit never overwrites a key; choose another --out or move the old file away first"
        case .keyFileWrite(let path, let reason):
            return "cannot write key file \(path): \(reason)"
        case .invalidKey(let source, let reason):
            return "\(source) is not a usable Ed25519 key: \(reason)"
        case .crypto(let operation, let reason):
            return "libcrypto failed to \(operation): \(reason)"
        case .malformedDigest(let path, let reason):
            return "\(path.map { "digest file \($0)" } ?? "digest") is malformed: \(reason)"
        case .fingerprintMismatch(let document, let key):
            return
                "the digest names public key \(document) but the signing key is \(key): set the document's public_key_fingerprint from the key that signs it"
        case .notCanonicalizable(let reason):
            return "value cannot be written as canonical JSON: \(reason)"
        case .digestDirectory(let path, let reason):
            return "digest directory \(path): \(reason) (check [integrity] digest_dir and its permissions)"
        case .digestFileIO(let path, let reason):
            return "digest file \(path): \(reason)"
        case .digestFileConflict(let path):
            return
                "digest file \(path) already exists with different contents: it is never overwritten; find out who wrote it (kraken-audit verify reports it)"
        case .hookNotExecutable(let path):
            return "[integrity] hook \(path) is not an executable file: fix the path or run `chmod +x \(path)`"
        case .hookFailed(let hook, let file, let reason):
            return "[integrity] hook \(hook) failed for \(file): \(reason); the digest is kept in the database and the digest directory"
        case .hookTimedOut(let hook, let file, let seconds):
            return
                "[integrity] hook \(hook) did not finish within \(Int(seconds)) s for \(file) and was killed; the digest is kept in the database and the digest directory"
        }
    }
}
