import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file a response body is streamed into instead of memory (`RetrieveExport`: a report may be GiBs, and an
/// answer held in memory grows the process by its size). The caller opens the file (the collector uses
/// `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600) and owns the descriptor; this writes at the descriptor's offset,
/// refuses bodies over ``maxBytes`` and hashes what it writes.
///
/// Used by one request at a time: every attempt starts with ``reset()`` (a retry overwrites a cut-off body).
public final class ResponseFile: @unchecked Sendable {
    /// The descriptor written to (not closed here).
    public let descriptor: Int32
    /// The largest body accepted; one byte more fails the request with ``ResponseBodyError/tooLarge(limit:declared:)``.
    public let maxBytes: Int64

    private let lock = NSLock()
    private var written: Int64 = 0
    private var hasher = SHA256Stream()
    private var firstBytes: [UInt8] = []
    private static let headLength = 2048

    public init(descriptor: Int32, maxBytes: Int64) {
        self.descriptor = descriptor
        self.maxBytes = maxBytes
    }

    /// Empties the file for a new attempt.
    public func reset() throws(ResponseBodyError) {
        lock.lock()
        defer { lock.unlock() }
        do {
            written = 0
            hasher = SHA256Stream()
            firstBytes = []
            guard ftruncate(descriptor, 0) == 0, lseek(descriptor, 0, SEEK_SET) == 0 else {
                throw .fileWrite(reason: String(cString: strerror(errno)))
            }
        }
    }

    /// Appends `data` (all of it, retrying short writes); throws when the body goes over ``maxBytes`` or the write fails.
    func append(_ data: Data) throws(ResponseBodyError) {
        lock.lock()
        defer { lock.unlock() }
        do {
            guard written + Int64(data.count) <= maxBytes else { throw .tooLarge(limit: maxBytes, declared: nil) }
            let failure: Int32? = data.withUnsafeBytes { raw -> Int32? in
                hasher.update(raw)
                if firstBytes.count < Self.headLength {
                    firstBytes.append(contentsOf: raw.prefix(Self.headLength - firstBytes.count))
                }
                var offset = 0
                while offset < raw.count {
                    let n = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    offset += n
                }
                return nil
            }
            if let failure { throw .fileWrite(reason: String(cString: strerror(failure))) }
            written += Int64(data.count)
        }
    }

    /// Bytes written in this attempt.
    public var byteCount: Int64 { lock.withLock { written } }

    /// The first (up to 2048) bytes of the body: zip magic, or an error page's excerpt.
    public var head: [UInt8] { lock.withLock { firstBytes } }

    /// SHA-256 (hex) of what this attempt wrote; call once, after the request completed.
    public func sha256Hex() -> String { lock.withLock { hasher.finishHex() } }

    /// The whole body, read back with `pread` (for a JSON answer that came instead of a file); nil when it is
    /// longer than `limit` or cannot be read.
    func readAll(limit: Int) -> [UInt8]? {
        let count = byteCount
        guard count <= Int64(limit) else { return nil }
        var out = [UInt8](repeating: 0, count: Int(count))
        var offset = 0
        while offset < out.count {
            let n = out.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + offset, $0.count - offset, off_t(offset)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return nil }
            offset += n
        }
        return out
    }
}

/// Why a transport stopped receiving a response body.
public enum ResponseBodyError: Error, Equatable, CustomStringConvertible {
    /// The body is (or announced itself as) larger than the request's limit; the transfer was cancelled.
    case tooLarge(limit: Int64, declared: Int64?)
    /// Writing the body to its ``ResponseFile`` failed (disk full, I/O error).
    case fileWrite(reason: String)

    public var description: String {
        switch self {
        case .tooLarge(let limit, let declared):
            let announced = declared.map { " (it announced \($0) bytes)" } ?? ""
            return "the response is larger than the limit of \(limit) bytes\(announced); the transfer was stopped"
        case .fileWrite(let reason): return "writing the response to its file failed: \(reason)"
        }
    }
}
