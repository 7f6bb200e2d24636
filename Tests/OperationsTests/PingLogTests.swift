import Foundation
import KrakenAPI
import Logging
import Operations
import TestSupport
import Testing

/// Issue 14 item 8: the ping URL's path holds the check's token; a failed ping logs the host only.
@Suite struct PingLogTests {
    /// A loopback port nothing listens on (bound, then closed).
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    @Test func failedPingLogsTheHostNeverTheToken() async throws {
        let token = "c0ffee00-1234-4bad-9e11-5ecre7t0ken99"
        let port = try Self.closedPort()
        let logs = CapturedLogs()
        let pinger = Pinger(
            url: "http://127.0.0.1:\(port)/ping/\(token)?key=\(token)q", transport: URLSessionTransport(), logger: logs.logger())
        await pinger.start()
        await pinger.finish(exitCode: 75)
        let text = logs.text
        #expect(text.contains("ping failed"), "\(text)")
        #expect(text.contains("127.0.0.1:\(port)"), "\(text)")
        #expect(!text.contains(token), "the token leaked into the log: \(text)")
        #expect(!text.contains("/ping/"), "\(text)")
    }

    @Test func httpErrorStatusLogsTheHostNeverTheToken() async throws {
        struct Refusing: HTTPTransport {
            func send(_ request: TransportRequest) async throws -> TransportResponse {
                TransportResponse(status: 404, body: Array(request.url.absoluteString.utf8))
            }
        }
        let token = "another-secret-token-4711"
        let logs = CapturedLogs()
        await Pinger(url: "https://hc-ping.example/\(token)", transport: Refusing(), logger: logs.logger()).start()
        #expect(logs.text.contains("host=hc-ping.example"), "\(logs.text)")
        #expect(logs.text.contains("status=404"))
        #expect(!logs.text.contains(token))
    }
}
