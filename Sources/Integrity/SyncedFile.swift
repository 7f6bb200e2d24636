import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writing a newly created file whole: exact mode, every byte, synced, closed; a half-written file is removed.
enum SyncedFile {
    /// Finishes the file just created at `path` (open as `fd`, which this closes): sets exactly `mode` (the umask
    /// may have taken bits away), writes `bytes`, syncs. Returns why it failed (the file is then removed), or nil.
    static func finish(fd: Int32, path: String, bytes: [UInt8], mode: mode_t) -> String? {
        var failure: String? = nil
        if fchmod(fd, mode) != 0 { failure = String(cString: strerror(errno)) }
        var offset = 0
        while failure == nil, offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno != EINTR { failure = String(cString: strerror(errno)) }
            } else {
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if close(fd) != 0, failure == nil { failure = String(cString: strerror(errno)) }
        if failure != nil { unlink(path) }
        return failure
    }
}
