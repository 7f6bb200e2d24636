import Foundation

/// Why an output file could not be written; nothing half-written is left behind.
public enum OutputError: Error, CustomStringConvertible {
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let reason):
            return "cannot write \(path): \(reason) (check the directory exists, is writable and has free space)"
        }
    }
}

/// Atomic file replacement: write a temporary file in the same directory, fsync it, rename it over the
/// target, fsync the directory. Readers see the old file or the new one, never a half-written one.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws(OutputError) {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let temp = "\(dir)/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        var failure: String? = nil
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

    public static func write(_ text: String, to path: String, mode: mode_t = 0o644) throws(OutputError) {
        try write(Data(text.utf8), to: path, mode: mode)
    }
}
