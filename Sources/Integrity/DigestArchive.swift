import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The digest files under `[integrity] digest_dir`: one file per digest at ``SignedDigest/relativePath``, written
/// once and never changed (a copy outside the database, to be kept on write-once storage).
public struct DigestArchive: Sendable {
    /// The archive's root directory.
    public let directory: String

    /// Digest files larger than this are not digests (a digest holds a few hundred bytes per chain).
    public static let maxFileSize = 64 << 20

    /// The archive at `directory` (created by the first ``write(_:)``).
    public init(directory: String) {
        self.directory = directory
    }

    /// Where `digest`'s file is (or would be) in this archive: ``directory`` + ``SignedDigest/relativePath``.
    public func path(for digest: SignedDigest) -> String {
        (directory as NSString).appendingPathComponent(digest.relativePath)
    }

    /// Writes `digest` to ``SignedDigest/relativePath`` below ``directory`` and returns the file's path.
    ///
    /// Missing directories are created (0755), the file is 0644 and appears whole or not at all: written to a
    /// temporary file, synced, then linked into place (which, unlike `rename`, never replaces a file) and the
    /// directory synced. A file already there with the same bytes is accepted (sealing again after a crash is
    /// harmless); one with other bytes is refused (``IntegrityError/digestFileConflict(path:)``).
    @discardableResult
    public func write(_ digest: SignedDigest) throws(IntegrityError) -> String {
        let path = path(for: digest)
        let parent = (path as NSString).deletingLastPathComponent
        try makeDirectories(parent)
        let bytes = digest.fileBytes()
        if let existing = try Self.readIfPresent(path) {
            guard existing == bytes else { throw .digestFileConflict(path: path) }
            return path
        }
        let temporary = (parent as NSString).appendingPathComponent(
            ".\(digest.fileName).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).partial")
        try Self.writeSynced(temporary, bytes: bytes)
        defer { unlink(temporary) }
        if link(temporary, path) != 0 {
            let code = errno
            if code == EEXIST {
                // Another sealer got there first: fine when it wrote the same digest.
                guard try Self.readIfPresent(path) == bytes else { throw .digestFileConflict(path: path) }
                return path
            }
            // Some file systems (SMB, FUSE) have no hard links: check, then rename, which only a concurrent
            // writer of the very same name could race.
            guard [EPERM, ENOTSUP, EOPNOTSUPP, EXDEV, EMLINK].contains(code) else {
                throw .digestFileIO(path: path, reason: String(cString: strerror(code)))
            }
            guard try Self.readIfPresent(path) == nil else { throw .digestFileConflict(path: path) }
            guard rename(temporary, path) == 0 else { throw .digestFileIO(path: path, reason: String(cString: strerror(errno))) }
        }
        Self.syncDirectory(parent)
        return path
    }

    /// Every `*.json` file below ``directory`` (sorted by path), each parsed or with the reason it cannot be.
    /// Throws only when the directory itself cannot be listed.
    public func readAll() throws(IntegrityError) -> [ArchivedDigest] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw .digestDirectory(path: directory, reason: "does not exist")
        }
        guard isDirectory.boolValue else { throw .digestDirectory(path: directory, reason: "is not a directory") }
        guard access(directory, R_OK | X_OK) == 0, let walker = FileManager.default.enumerator(atPath: directory) else {
            throw .digestDirectory(path: directory, reason: "cannot be listed: \(String(cString: strerror(errno)))")
        }
        var relatives: [String] = []
        while let next = walker.nextObject() as? String {
            if next.hasSuffix(".json"), !(next as NSString).lastPathComponent.hasPrefix(".") { relatives.append(next) }
        }
        return relatives.sorted().map { relative in
            let path = (directory as NSString).appendingPathComponent(relative)
            let result = Result { () throws(IntegrityError) -> SignedDigest in try Self.parseFile(path) }
            return ArchivedDigest(path: path, relativePath: relative, result: result)
        }
    }

    /// The digest in the file at `path`; a malformed one's error names the file.
    static func parseFile(_ path: String) throws(IntegrityError) -> SignedDigest {
        guard let bytes = try readIfPresent(path) else { throw .digestFileIO(path: path, reason: "disappeared while being read") }
        do {
            return try SignedDigest.parse(fileBytes: bytes)
        } catch {
            if case .malformedDigest(let file, let reason) = error, file == nil { throw .malformedDigest(path: path, reason: reason) }
            throw error
        }
    }

    /// Creates `path` and its missing parents with mode 0755.
    private func makeDirectories(_ path: String) throws(IntegrityError) {
        var missing: [String] = []
        var current = path
        var st = stat()
        while !current.isEmpty, current != "/", stat(current, &st) != 0 {
            // ENOTDIR: a file stands where a directory should; walking up finds it and reports it below.
            guard errno == ENOENT || errno == ENOTDIR else {
                throw .digestDirectory(path: current, reason: String(cString: strerror(errno)))
            }
            missing.append(current)
            current = (current as NSString).deletingLastPathComponent
        }
        if !current.isEmpty, stat(current, &st) == 0, (st.st_mode & S_IFMT) != S_IFDIR {
            throw .digestDirectory(path: current, reason: "is not a directory")
        }
        for dir in missing.reversed() {
            if mkdir(dir, 0o755) != 0 {
                guard errno == EEXIST else {
                    throw .digestDirectory(path: dir, reason: "cannot be created: \(String(cString: strerror(errno)))")
                }
            } else {
                // The umask may have removed bits; digests are public, whoever verifies must be able to read them.
                chmod(dir, 0o755)
            }
        }
    }

    /// The file's bytes, or nil when it does not exist.
    static func readIfPresent(_ path: String) throws(IntegrityError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw .digestFileIO(path: path, reason: "cannot be read: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(fd, &chunk, chunk.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw .digestFileIO(path: path, reason: "cannot be read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<n])
            guard bytes.count <= maxFileSize else { throw .digestFileIO(path: path, reason: "is larger than \(maxFileSize >> 20) MiB") }
        }
    }

    /// Creates `path` (0644) with `bytes`, synced to disk.
    private static func writeSynced(_ path: String, bytes: [UInt8]) throws(IntegrityError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .digestFileIO(path: path, reason: "cannot be created: \(String(cString: strerror(errno)))") }
        if let failure = SyncedFile.finish(fd: fd, path: path, bytes: bytes, mode: 0o644) {
            throw .digestFileIO(path: path, reason: "cannot be written: \(failure)")
        }
    }

    /// Makes the new directory entry durable (best effort: some file systems refuse fsync on directories).
    private static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
