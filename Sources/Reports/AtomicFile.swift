import Foundation

/// Atomic file replacement: write a temporary file in the same directory, fsync it, rename it over the
/// target, fsync the directory. Readers see the old file or the new one, never a half-written one.
///
/// Files are private by default (mode 0600, owner only): reports and CSVs hold financial data, and a cron job
/// or a manual run may have a permissive umask (022 gives 0644). The mode is set with `fchmod` after creating
/// the file, so the umask can neither widen nor narrow it.
public enum AtomicFile {
    /// Owner read/write only: reports, CSV tables.
    public static let privateMode: mode_t = 0o600
    /// Readable by everyone: only for files another service must read (the Prometheus textfile, which
    /// node_exporter reads as its own user).
    public static let publicReadableMode: mode_t = 0o644

    /// Writes `data` to `path` atomically with exactly `mode` (whatever the umask).
    public static func write(_ data: Data, to path: String, mode: mode_t = privateMode) throws(OutputError) {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let temp = "\(dir)/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // Created owner-only (0600 & ~umask can only be narrower), then set to `mode` before any byte is written.
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, privateMode)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        var failure: String? = nil
        if fchmod(fd, mode) != 0 { failure = "cannot set mode \(String(mode, radix: 8)): " + String(cString: strerror(errno)) }
        if failure == nil {
            data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = String(cString: strerror(errno))
                        return
                    }
                    offset += n
                }
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if close(fd) != 0, failure == nil { failure = String(cString: strerror(errno)) }
        if failure == nil, rename(temp, path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temp)
            throw .cannotWrite(path: path, reason: failure)
        }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    /// Removes temporary files that a killed writer left in `directory` (`.<name>.tmp-<pid>-<n>` whose process
    /// is gone). Readers never see them, but they should not pile up.
    public static func removeStaleTemporaries(in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(".") && name.contains(".tmp-") {
            let parts = name.components(separatedBy: ".tmp-")
            guard let rest = parts.last, let pid = Int32(rest.split(separator: "-").first ?? "") else { continue }
            if pid != getpid(), kill(pid, 0) != 0, errno == ESRCH { unlink("\(directory)/\(name)") }
        }
    }

    /// Writes `text` as UTF-8 to `path` atomically with exactly `mode` (whatever the umask).
    public static func write(_ text: String, to path: String, mode: mode_t = privateMode) throws(OutputError) {
        try write(Data(text.utf8), to: path, mode: mode)
    }
}
