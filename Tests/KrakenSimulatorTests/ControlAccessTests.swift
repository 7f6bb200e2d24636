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
        for ip in [
            "10.0.0.5", "192.168.1.20", "192.0.2.2", "0.0.0.0", "::", "::ffff:10.0.0.5", "fe80::1%eth0", "2001:db8::1",
            "128.0.0.1", "localhost", "", "not an address",
        ] {
            #expect(!ControlAccess.isLoopback(ip: ip), "\(ip)")
        }
        #expect(!ControlAccess.isLoopback(ip: nil))
        #expect(ControlAccess.isLoopbackListenAddress("127.0.0.1") && ControlAccess.isLoopbackListenAddress("localhost"))
        #expect(!ControlAccess.isLoopbackListenAddress("0.0.0.0") && !ControlAccess.isLoopbackListenAddress("::"))
        #expect(ControlAccess.isControlPath("/_sim") && ControlAccess.isControlPath("/_sim/accounts"))
        #expect(!ControlAccess.isControlPath("/0/public/Time") && !ControlAccess.isControlPath("/_simulate"))
    }

    /// Runs a command to its end (60 s at most) without holding a thread of the cooperative pool.
    @discardableResult
    static func command(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let p = try ChildProcess.start(
            executable, arguments: arguments, environment: ProcessInfo.processInfo.environment, stdout: .capture(limit: 1 << 20),
            stderr: .stdout)
        let t = await p.exitOrKill(timeout: 60)
        p.waitForOutput(timeout: 5)
        guard case .exited(let status)? = t else { return (-1, p.stdoutText) }
        return (status, p.stdoutText)
    }

    static let ip = "/usr/sbin/ip"
    static let curl = "/usr/bin/curl"
    /// A second host needs a network namespace of our own (root, iproute2, curl); traffic then only flows between
    /// this machine and that namespace, over a veth pair the test creates and removes.
    static var canMakeTestHost: Bool {
        geteuid() == 0 && FileManager.default.isExecutableFile(atPath: ip) && FileManager.default.isExecutableFile(atPath: curl)
    }

    /// A test host in a network namespace made for this test: a veth pair, this side `10.231.n.1/30`, the
    /// namespace's side `10.231.n.2/30`. `body` gets this side's address and a function running curl in the
    /// namespace. Everything is removed afterwards (deleting the namespace deletes the pair).
    static func withTestHost(
        _ body: (_ hostAddress: String, _ curlFromTestHost: @escaping ([String]) async throws -> (Int32, String)) async throws -> Void
    ) async throws {
        let n = Int.random(in: 1...250)
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let (ns, here, there) = ("ka-sim-\(tag)", "kah\(tag.prefix(8))", "kat\(tag.prefix(8))")
        let (hostAddress, peerAddress) = ("10.231.\(n).1", "10.231.\(n).2")
        defer { _ = try? ChildProcess.run(ip, arguments: ["netns", "del", ns], environment: [:], timeout: 30) }
        for args in [
            ["netns", "add", ns], ["link", "add", here, "type", "veth", "peer", "name", there, "netns", ns],
            ["addr", "add", "\(hostAddress)/30", "dev", here], ["link", "set", here, "up"],
            ["-n", ns, "addr", "add", "\(peerAddress)/30", "dev", there], ["-n", ns, "link", "set", there, "up"],
            ["-n", ns, "link", "set", "lo", "up"],
        ] {
            let (status, output) = try await command(ip, args)
            try #require(status == 0, "ip \(args.joined(separator: " ")): \(output)")
        }
        try await body(hostAddress) { args in
            try await command(ip, ["netns", "exec", ns, curl, "-sS", "--max-time", "20", "-w", "\n%{http_code}"] + args)
        }
    }

    @Test(.enabled(if: canMakeTestHost, "needs root, iproute2 and curl to make a test host in a network namespace"))
    func controlRequestFromANonLoopbackPeerIsRefused() async throws {
        try await TestSim.with({ $0.host = "0.0.0.0" }) { sim in
            try await Self.withTestHost { address, curl in
                /// The body and the HTTP status (curl's last line).
                func get(_ path: String) async throws -> (Int, String) {
                    let (status, output) = try await curl(["http://\(address):\(sim.port)\(path)"])
                    try #require(status == 0, "curl \(path): \(output)")
                    let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
                    return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
                }
                // The server sees the test host's address (10.231.n.2) as the peer.
                let (status, body) = try await get("/_sim/accounts")
                #expect(status == 403, "\(body)")
                #expect(body.contains("loopback"), "\(body)")
                #expect(!body.contains(sim.accounts[0].secret))
                #expect(try await get("/_sim").0 == 403)
                // Kraken's endpoints are still served to that peer.
                let (timeStatus, timeBody) = try await get("/0/public/Time")
                #expect(timeStatus == 200, "\(timeBody)")
            }
            // The control API still answers loopback.
            let (localStatus, localBody) = try await RawHTTP.send(URL(string: "http://127.0.0.1:\(sim.port)/_sim/accounts")!, method: "GET")
            #expect(localStatus == 200)
            #expect(String(decoding: localBody, as: UTF8.self).contains(sim.accounts[0].secret))
        }
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
