import Foundation

/// Validation of Kraken base URLs: `https://` anywhere, plain `http://` only to loopback (the simulator).
public enum BaseURL {
    /// Parses and checks `string`; the error names the problem and the fix.
    public static func validate(_ string: String) throws(KrakenError) -> URL {
        guard let url = URL(string: string), let scheme = url.scheme?.lowercased(), let host = url.host,
            !host.isEmpty
        else {
            throw .insecureURL("api_url '\(string)' is not a valid URL: use e.g. https://api.kraken.com")
        }
        if url.user != nil || url.password != nil {
            throw .insecureURL("api_url must not contain a user or password")
        }
        switch scheme {
        case "https": return url
        case "http":
            guard isLoopback(host) else {
                throw .insecureURL(
                    "api_url '\(string)' uses plain http:// to a non-loopback host: use https:// (http is allowed only for 127.0.0.1/::1/localhost)"
                )
            }
            return url
        default:
            throw .insecureURL("api_url '\(string)' has scheme '\(scheme)': use https://")
        }
    }

    /// Checks a WebSocket URL (`[[account]] ws_url`, issue 20): `wss://` anywhere, plain `ws://` only to loopback.
    public static func validateWebSocket(_ string: String) throws(KrakenError) -> URL {
        guard let url = URL(string: string), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else {
            throw .insecureURL("ws_url '\(string)' is not a valid URL: use e.g. wss://ws-auth.kraken.com/v2")
        }
        if url.user != nil || url.password != nil {
            throw .insecureURL("ws_url must not contain a user or password")
        }
        switch scheme {
        case "wss": return url
        case "ws":
            guard isLoopback(host) else {
                throw .insecureURL(
                    "ws_url '\(string)' uses plain ws:// to a non-loopback host: use wss:// (ws is allowed only for 127.0.0.1/::1/localhost)"
                )
            }
            return url
        default:
            throw .insecureURL("ws_url '\(string)' has scheme '\(scheme)': use wss://")
        }
    }

    /// Whether `host` is a loopback name or address.
    public static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if h == "localhost" || h == "::1" || h.hasSuffix(".localhost") { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }), parts[0] == "127" { return true }
        return false
    }
}
