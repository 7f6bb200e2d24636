import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny HTTP/1.1 server on a loopback address for transport tests (redirects, oversized bodies): blocking
/// POSIX sockets on a plain thread, one connection at a time, `Connection: close`. It records every request it
/// received (request line and headers) and how many body bytes it managed to send.
public final class LoopbackHTTPServer: @unchecked Sendable {
    /// What to answer.
    public enum Answer: Sendable {
        /// A complete response: status line, headers (Content-Length added) and body.
        case response(status: Int, headers: [(String, String)], body: [UInt8])
        /// HTTP 200 with `total` bytes of `filler`, sent in 64 KiB writes until done or the peer goes away.
        /// With `declareLength`, a Content-Length announces the size; otherwise the body ends at close.
        case stream(total: Int, declareLength: Bool)
    }

    public let host: String
    public let port: UInt16
    private let fd: Int32
    private let answer: @Sendable (String) -> Answer
    private let lock = NSLock()
    private var heads: [String] = []
    private var sent = 0
    private var streamEnded = false

    /// Listens on `host` (e.g. `127.0.0.1`, `127.0.0.2`); `answer` gets the request line and returns the answer.
    public init(host: String = "127.0.0.1", answer: @escaping @Sendable (String) -> Answer) throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr(host)
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(s, 16) == 0 else {
            close(s)
            throw POSIXError(.EADDRNOTAVAIL)
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        self.fd = s
        self.port = UInt16(bigEndian: addr.sin_port)
        self.host = host
        self.answer = answer
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// Stops accepting (the serving thread ends at its next accept).
    public func stop() { shutdown(fd, Int32(SHUT_RDWR)) }

    deinit { close(fd) }

    /// Request line and headers of every request received, in order.
    public var requests: [String] { lock.withLock { heads } }
    /// Body bytes of the last `.stream` answer written to the socket so far.
    public var bytesSent: Int { lock.withLock { sent } }
    /// Whether the last `.stream` answer has ended (all sent, or the peer went away).
    public var streamFinished: Bool { lock.withLock { streamEnded } }

    private func serve() {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 {
                if errno == EINTR { continue }
                return
            }
            handle(c)
            close(c)
        }
    }

    private func handle(_ c: Int32) {
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var headEnd: Int?
        while headEnd == nil {
            let n = recv(c, &buffer, buffer.count, 0)
            if n <= 0 { return }
            data += buffer[0..<n]
            if let r = data.firstRange(of: Array("\r\n\r\n".utf8)) { headEnd = r.upperBound }
        }
        let head = String(decoding: data[0..<headEnd!], as: UTF8.self)
        // Read the request body too (Content-Length), so closing never resets a request still being sent.
        let length =
            head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        var bodyHave = data.count - headEnd!
        while bodyHave < length {
            let n = recv(c, &buffer, buffer.count, 0)
            if n <= 0 { break }
            bodyHave += n
        }
        lock.withLock { heads.append(head) }
        let requestLine = String(head.split(separator: "\r\n").first ?? "")
        switch answer(requestLine) {
        case .response(let status, let headers, let body):
            var text = "HTTP/1.1 \(status) X\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
            for (k, v) in headers { text += "\(k): \(v)\r\n" }
            _ = sendAll(c, Array((text + "\r\n").utf8) + body)
        case .stream(let total, let declareLength):
            lock.withLock {
                sent = 0
                streamEnded = false
            }
            var text = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/octet-stream\r\n"
            if declareLength { text += "Content-Length: \(total)\r\n" }
            guard sendAll(c, Array((text + "\r\n").utf8)) else { break }
            let chunk = [UInt8](repeating: 0x78, count: 64 * 1024)
            var done = 0
            while done < total {
                let n = min(chunk.count, total - done)
                guard sendAll(c, Array(chunk[0..<n])) else { break }
                done += n
                lock.withLock { sent = done }
            }
            lock.withLock { streamEnded = true }
        }
    }

    private func sendAll(_ c: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(c, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}
