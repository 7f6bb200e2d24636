import AuditConfig
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reading and creating key files: private keys as privately as secrets (``SecretReader/checkPrivate(path:key:)``),
/// never overwriting anything.
enum KeyFile {
    /// Key files are a few hundred bytes; anything much larger is not a key file.
    static let maxSize = 64 * 1024

    /// Refuses a private key file that group or others can access or another user owns, as secret files are.
    static func checkPrivate(_ path: String) throws(IntegrityError) {
        do {
            try SecretReader.checkPrivate(path: path, key: "[integrity] signing_key_file")
        } catch {
            switch error {
            case .fileMissing: throw .keyFileMissing(path: path)
            case .filePermissions(_, let mode): throw .keyFileNotPrivate(path: path, mode: mode)
            case .fileOwner(_, let owner, let expected): throw .keyFileOwner(path: path, owner: owner, expected: expected)
            case .fileUnreadable(_, let reason): throw .keyFileUnreadable(path: path, reason: reason)
            default: throw .keyFileUnreadable(path: path, reason: error.description)
            }
        }
    }

    /// The file's bytes (at most ``maxSize``).
    static func read(_ path: String) throws(IntegrityError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .keyFileMissing(path: path) }
            throw .keyFileUnreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        defer { for i in chunk.indices { chunk[i] = 0 } }
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw .keyFileUnreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
            guard bytes.count <= maxSize else {
                throw .invalidKey(source: "key file \(path)", reason: "it is larger than \(maxSize / 1024) KiB")
            }
        }
    }

    /// Creates `path` with exactly `mode` and writes `bytes`, synced to disk. Refuses an existing file (or a
    /// symbolic link in its place); a half-written file is removed.
    static func create(_ path: String, bytes: [UInt8], mode: mode_t) throws(IntegrityError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else {
            if errno == EEXIST { throw .keyFileExists(path: path) }
            throw .keyFileWrite(path: path, reason: String(cString: strerror(errno)))
        }
        if let failure = SyncedFile.finish(fd: fd, path: path, bytes: bytes, mode: mode) {
            throw .keyFileWrite(path: path, reason: failure)
        }
    }
}

extension Ed25519PrivateKey {
    /// Loads a PEM private key file (`[integrity] signing_key_file`). Like secret files, the file must be readable
    /// by its owner only (`chmod 600`) and owned by the user running kraken-audit; otherwise it is refused and the
    /// error names the file and the fix.
    public static func load(path: String) throws(IntegrityError) -> Ed25519PrivateKey {
        try KeyFile.checkPrivate(path)
        var bytes = try KeyFile.read(path)
        defer { for i in bytes.indices { bytes[i] = 0 } }
        return try Ed25519PrivateKey(pem: bytes, source: "signing key file \(path)")
    }

    /// Writes the key as PKCS#8 PEM to a new file `path` with mode 0600. An existing file is never overwritten
    /// (``IntegrityError/keyFileExists(path:)``).
    public func write(to path: String) throws(IntegrityError) {
        var bytes = pemBytes()
        defer { for i in bytes.indices { bytes[i] = 0 } }
        try KeyFile.create(path, bytes: bytes, mode: 0o600)
    }
}

extension Ed25519PublicKey {
    /// Loads a PEM public key file (`-----BEGIN PUBLIC KEY-----`), e.g. the `.pub` file `keygen` writes.
    public static func load(path: String) throws(IntegrityError) -> Ed25519PublicKey {
        try Ed25519PublicKey(pem: try KeyFile.read(path), source: "public key file \(path)")
    }

    /// Writes the key as PEM to a new file `path` with mode 0644 (public: anyone verifying needs it). An existing
    /// file is never overwritten.
    public func write(to path: String) throws(IntegrityError) {
        try KeyFile.create(path, bytes: Array(pemRepresentation.utf8), mode: 0o644)
    }
}
