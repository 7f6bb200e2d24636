import Foundation
import KrakenAPI

#if canImport(Glibc)
    import Glibc
#endif

/// The file-system side of export downloads: names, private directories, the `.part` file, and the verified
/// open file an import reads. Exports are financial records: files are 0600 and the directory kraken-audit
/// creates 0700, set explicitly (not left to the umask, which cron and manual runs do not tighten).
enum ExportFile {
    /// Whether `id` may be part of a file name: Kraken's report ids are short ASCII (`TCJA`); anything else
    /// (`../../x`, a slash, unicode, 65+ characters) is refused before it reaches a path.
    static func isValidKrakenId(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D
        }
    }

    static func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    /// Creates `dir` (and missing parents) if needed; a directory created here is mode 0700 whatever the umask.
    /// An existing directory is used as it is (the operator chose it), but it must be a directory, not a symlink
    /// to one somewhere else.
    static func ensurePrivateDirectory(_ dir: URL) throws(ExportError) {
        let path = dir.path
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                throw .unsafeFile(path: path, reason: "is not a directory (a symlink or a file is where the export directory should be)")
            }
            return
        }
        let parent = dir.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw .unsafeFile(
                path: parent.path,
                reason: "cannot be created (\(error)): set --export-dir or KRAKEN_AUDIT_EXPORT_DIR to a writable directory")
        }
        if mkdir(path, 0o700) != 0, errno != EEXIST {
            throw .unsafeFile(
                path: path,
                reason: "cannot be created (\(errnoText())): set --export-dir or KRAKEN_AUDIT_EXPORT_DIR to a writable directory")
        }
        // mkdir's mode is masked by the umask; chmod is not.
        guard chmod(path, 0o700) == 0 else { throw .unsafeFile(path: path, reason: "cannot be made private (\(errnoText()))") }
    }

    /// Creates `<file>.part` for writing: a leftover of a killed run is unlinked first (`unlink` removes a
    /// symlink itself, never its target), then the file is created with `O_CREAT|O_EXCL|O_NOFOLLOW`, so a
    /// symlink planted in between fails the create instead of redirecting the write. Mode 0600 via `fchmod`.
    static func createPart(_ part: String) throws(ExportError) -> Int32 {
        if unlink(part) != 0, errno != ENOENT {
            throw .unsafeFile(path: part, reason: "is left over and cannot be removed (\(errnoText()))")
        }
        let fd = open(part, O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .unsafeFile(path: part, reason: "cannot be created exclusively (\(errnoText()))") }
        guard fchmod(fd, 0o600) == 0 else {
            let reason = errnoText()
            close(fd)
            unlink(part)
            throw .unsafeFile(path: part, reason: "cannot be made private (\(reason))")
        }
        return fd
    }

    /// Makes the finished download durable: fsync the file, rename `.part` over the final name (atomic; a
    /// symlink at the final name is replaced, not followed), fsync the directory.
    static func commit(descriptor fd: Int32, part: String, final: String) throws(ExportError) {
        guard fsync(fd) == 0 else { throw .unsafeFile(path: part, reason: "cannot be written to disk (\(errnoText()))") }
        guard rename(part, final) == 0 else { throw .unsafeFile(path: final, reason: "cannot be put in place (\(errnoText()))") }
        let dir = open((final as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }
}
