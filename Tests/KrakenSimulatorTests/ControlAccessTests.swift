import ChildProcesses
import Foundation
import KrakenAPI
import KrakenSimulator
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Issue 14 item 13: the `/_sim/*` control API returns simulated API secrets, so it answers loopback peers
/// only; a non-loopback `--host` prints a WARNING.
@Suite struct ControlAccessTests {
    @Test func loopbackPeersOnly() {
        for ip in ["127.0.0.1", "127.3.2.1", "::1", "[::1]", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"] {
            #expect(ControlAccess.isLoopback(ip: ip), "\(ip)")
        }
        for ip in ["10.0.0.5", "192.168.1.20", "192.0.2.2", "0.0.0.0", "::", "::ffff:10.0.0.5", "fe80::1%eth0", "2001:db8::1",
                   "128.0.0.1", "localhost", "", "not an address"] {
            #expect(!ControlAccess.isLoopback(ip: ip), "\(ip)")
        }
        #expect(!ControlAccess.isLoopback(ip: nil))
        #expect(ControlAccess.isLoopbackListenAddress("127.0.0.1") && ControlAccess.isLoopbackListenAddress("localhost"))
        #expect(!ControlAccess.isLoopbackListenAddress("0.0.0.0") && !ControlAccess.isLoopbackListenAddress("::"))
        #expect(ControlAccess.isControlPath("/_sim") && ControlAccess.isControlPath("/_sim/accounts"))
        #expect(!ControlAccess.isControlPath("/0/public/Time") && !ControlAccess.isControlPath("/_simulate"))
    }

    /// This machine's first non-loopback IPv4 address, if it has one (traffic to it never leaves the host).
    static var localNonLoopbackIPv4: String? {
        var list: UnsafeMutablePointer<ifaddrs>? = nil
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var cursor = list
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let addr = entry.pointee.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET),
                entry.pointee.ifa_flags & UInt32(IFF_UP) != 0
            else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            guard getnameinfo(addr, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            let ip = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !ip.hasPrefix("127.") { return ip }
        }
        return nil
    }

    static func get(_ url: String) async throws -> (Int, String) {
        let (status, body) = try await RawHTTP.send(URL(string: url)!, method: "GET")
        return (status, String(decoding: body, as: UTF8.self))
    }

    @Test(.enabled(if: localNonLoopbackIPv4 != nil, "needs a non-loopback interface address on this machine"))
    func controlRequestFromANonLoopbackPeerIsRefused() async throws {
        let ip = try #require(Self.localNonLoopbackIPv4)
        let sim = try await TestSim.start { $0.host = "0.0.0.0" }
        defer { Task { await sim.stop() } }
        // Connecting to the machine's own interface address: the peer address the server sees is `ip`.
        let (status, body) = try await Self.get("http://\(ip):\(sim.port)/_sim/accounts")
        #expect(status == 403, "\(body)")
        #expect(body.contains("loopback"), "\(body)")
        #expect(!body.contains(sim.accounts[0].secret))
        let (healthStatus, _) = try await Self.get("http://\(ip):\(sim.port)/_sim")
        #expect(healthStatus == 403)
        // Kraken's endpoints are still served to that peer; the control API still to loopback.
        let (timeStatus, timeBody) = try await Self.get("http://\(ip):\(sim.port)/0/public/Time")
        #expect(timeStatus == 200, "\(timeBody)")
        let (localStatus, localBody) = try await Self.get("http://127.0.0.1:\(sim.port)/_sim/accounts")
        #expect(localStatus == 200)
        #expect(localBody.contains(sim.accounts[0].secret))
    }

    @Test(.enabled(if: ExternalClientTests.executable != nil)) func nonLoopbackHostPrintsAWarning() async throws {
        let exe = try #require(ExternalClientTests.executable)
        let p = try ChildProcess.start(
            exe, arguments: ["--host", "0.0.0.0", "--seed", "1", "--days", "5", "--scale", "50", "--accounts", "1", "--end", "2026-11-01"],
            environment: ProcessInfo.processInfo.environment, stdout: .capture(limit: 1 << 20), stderr: .stdout)
        defer { p.signal(SIGKILL) }
        var text = ""
        let found = await eventually(30) {
            text = p.stdoutText
            return text.contains("account=acct1")
        }
        #expect(found, "\(text)")
        #expect(text.contains("WARNING: --host 0.0.0.0 is not a loopback address"), "\(text)")
        p.signal(SIGTERM)
        _ = await p.exit(timeout: 10)
    }
}
