import Foundation
import KrakenAPI
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Cancelling a request (what SIGINT/SIGTERM does to a run) must end it at once and never deadlock:
/// `URLSession.data(for:)` on Linux can deadlock when a cancellation meets a response being delivered
/// (swift-corelibs-foundation#5412), which hung `kraken-audit run` after SIGTERM.
@Suite struct TransportCancellationTests {
    /// A loopback TCP listener that accepts connections (in the kernel's backlog) and never answers.
    final class SilentListener: @unchecked Sendable {
        let fd: Int32
        let port: UInt16

        init() throws {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, listen(s, 128) == 0 else {
                close(s)
                throw POSIXError(.EADDRINUSE)
            }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
            fd = s
            port = UInt16(bigEndian: addr.sin_port)
        }

        deinit { close(fd) }
    }

    /// Cancels `tasks` from a plain thread (so a deadlock inside `cancel()` cannot take a thread of the
    /// cooperative pool with it, and the test fails instead of hanging), then waits up to `seconds` for the
    /// cancellations and for every task to end. Returns whether all of that happened.
    static func cancelAndWait(_ tasks: [Task<Void, Never>], ended: Counter, within seconds: Double) async -> Bool {
        let cancelled = Counter()
        Thread {
            for t in tasks { t.cancel() }
            cancelled.increment()
        }.start()
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline, cancelled.value < 1 || ended.value < tasks.count {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return cancelled.value == 1 && ended.value == tasks.count
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var v = 0
        var value: Int { lock.withLock { v } }
        func increment() { lock.withLock { v += 1 } }
    }

    @Test func cancellingAnUnansweredRequestEndsItPromptly() async throws {
        let listener = try SilentListener()
        let transport = URLSessionTransport()
        let request = TransportRequest(
            method: "POST", url: URL(string: "http://127.0.0.1:\(listener.port)/0/private/Ledgers")!, headers: [],
            body: Array("nonce=1".utf8), timeout: 60)
        let outcome = OutcomeBox()
        let ended = Counter()
        let task = Task {
            do {
                _ = try await transport.send(request)
                outcome.set("answered")
            } catch {
                outcome.set("failed")
            }
            ended.increment()
        }
        try await Task.sleep(for: .milliseconds(300))
        let started = Date()
        #expect(await Self.cancelAndWait([task], ended: ended, within: 20), "the cancelled request hung")
        #expect(outcome.value == "failed")
        #expect(Date().timeIntervalSince(started) < 10)  // not the 60 s request timeout
    }

    /// The upstream reproduction: many requests to a closed port, cancelled while their failures are being
    /// delivered.
    @Test func cancellationRacingFailuresNeverDeadlocks() async throws {
        let transport = URLSessionTransport()
        // A port nobody listens on: bind, read the port, close.
        let port = try SilentListener().port
        let request = TransportRequest(method: "GET", url: URL(string: "http://127.0.0.1:\(port)/")!, headers: [], body: [], timeout: 10)
        for round in 0..<5 {
            let ended = Counter()
            let tasks = (0..<60).map { _ in
                Task {
                    _ = try? await transport.send(request)
                    ended.increment()
                }
            }
            try await Task.sleep(for: .microseconds(100 + round * 300))
            let finished = await Self.cancelAndWait(tasks, ended: ended, within: 30)
            #expect(finished, "round \(round) deadlocked")
            if !finished { break }
        }
    }

    final class OutcomeBox: @unchecked Sendable {
        private let lock = NSLock()
        private var v = ""
        var value: String { lock.withLock { v } }
        func set(_ s: String) { lock.withLock { v = s } }
    }
}
