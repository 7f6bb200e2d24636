import Foundation
import KrakenAPI

/// Who may use the `/_sim/*` control endpoints: only clients on this machine's loopback interface.
///
/// The control API returns every account's API key and secret (`/_sim/accounts`) and can rewrite the
/// simulated exchange, so when the simulator listens on a non-loopback address (`--host 0.0.0.0`, for a
/// container or a second machine) only the Kraken endpoints are served to remote peers; `/_sim/*` answers
/// them 403.
public enum ControlAccess {
    /// Whether `path` is routed to the control API (the same test ``SimulatorState/handle(_:)`` makes).
    public static func isControlPath(_ path: String) -> Bool {
        path == "/_sim" || path.hasPrefix("/_sim/")
    }

    /// Whether `ip` (a numeric IPv4 or IPv6 address, as the socket reports the peer) is a loopback address:
    /// 127.0.0.0/8, ::1, or an IPv4-mapped loopback (::ffff:127.x.x.x). Anything else, including an
    /// unknown peer (`nil`) or a name, is not.
    public static func isLoopback(ip: String?) -> Bool {
        guard var ip, !ip.isEmpty else { return false }
        if ip.hasPrefix("["), ip.hasSuffix("]") { ip = String(ip.dropFirst().dropLast()) }
        if let zone = ip.firstIndex(of: "%") { ip = String(ip[..<zone]) }  // fe80::1%eth0
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, ip, &v6) == 1 else { return false }
        let b = withUnsafeBytes(of: &v6) { Array($0) }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return true }  // ::1
        // ::ffff:a.b.c.d (an IPv4 client on a dual-stack socket)
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff { return b[12] == 127 }
        return false
    }

    /// Whether `host` (the `--host` listen address) only accepts connections from this machine.
    public static func isLoopbackListenAddress(_ host: String) -> Bool {
        host == "localhost" || isLoopback(ip: host)
    }

    /// The 403 answer to a control request from another machine.
    static let refusal = """
        {"error":"the /_sim control API only answers clients on loopback (it returns the simulated API secrets); \
        connect to 127.0.0.1 on the simulator's machine"}
        """
}
