import Foundation
import KrakenAPI

/// A downloaded export opened once for reading (`O_NOFOLLOW`, regular file only): it is hashed and then
/// imported from this same open file, so a file swapped at the path after the check is never what is imported.
final class OpenedExport: @unchecked Sendable {
    let descriptor: Int32
    /// The path it was opened at, for messages only.
    let path: String

    /// Opens `path`; nil when it does not exist.
    static func openForImport(_ path: String) throws(ExportError) -> OpenedExport? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw .unsafeFile(path: path, reason: errno == ELOOP ? "is a symlink" : "cannot be opened (\(ExportFile.errnoText()))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw .unsafeFile(path: path, reason: "is not a regular file")
        }
        return OpenedExport(descriptor: fd, path: path)
    }

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    /// SHA-256 (hex) of the whole file, read through this descriptor (`pread`, 1 MiB at a time).
    func sha256Hex() throws(ExportError) -> String {
        let hasher = SHA256Stream()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw .fileMissing(path: path, reason: "cannot be read (\(ExportFile.errnoText()))") }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += off_t(n)
        }
        return hasher.finishHex()
    }

    /// A path naming this open file itself (not the directory entry it was opened at): ZIPFoundation opens
    /// archives by path only, and `/proc/self/fd/N` resolves to the descriptor's own inode, so the archive read
    /// is the file that was hashed even if the name now points elsewhere.
    var archiveURL: URL { URL(fileURLWithPath: "/proc/self/fd/\(descriptor)") }
}
