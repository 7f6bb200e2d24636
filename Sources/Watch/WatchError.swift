import Collector

/// What can end a WebSocket connection of `watch`, or `watch` itself. Each case says what happened and what to do.
public enum WatchError: Error, CustomStringConvertible, Sendable {
    /// Kraken answered a subscription with `ESession:Invalid session` (token expired, used or revoked): the next
    /// connection takes a fresh token.
    case invalidSession(channel: String)
    /// A subscription was refused for another reason (e.g. `EAccount:Invalid permissions`).
    case subscriptionRefused(channel: String, error: String)
    /// No message of any kind for the watchdog's limit, not even after a ping.
    case stalled(seconds: Double)
    /// A message that is not the JSON Kraken's WebSocket v2 sends.
    case malformed(reason: String)
    /// Kraken closed the connection (close frame or end of stream).
    case closedByKraken(code: String?)
    /// The token call (REST `GetWebSocketsToken`) failed.
    case token(CollectError)
    /// The connection could not be opened or broke.
    case connection(String)
    /// The database refused a write or a read.
    case database(String)
    /// The configuration does not allow watching (e.g. no account selected).
    case configuration(String)

    public var description: String {
        switch self {
        case .invalidSession(let channel):
            return
                "Kraken refused the \(channel) subscription with ESession:Invalid session (the token expired or was revoked); reconnecting with a fresh token"
        case .subscriptionRefused(let channel, let error):
            return
                "Kraken refused the \(channel) subscription: \(error); check that the API key has the permissions 'WebSocket interface' (create-ws-token), 'Query funds', 'Query ledger entries' and 'Query open/closed orders & trades'"
        case .stalled(let seconds):
            return "no message from Kraken for \(Int(seconds)) s (not even a heartbeat or a pong); reconnecting"
        case .malformed(let reason):
            return "Kraken sent a message that is not WebSocket v2 JSON: \(reason)"
        case .closedByKraken(let code):
            return "Kraken closed the WebSocket connection\(code.map { " (\($0))" } ?? ""); reconnecting"
        case .token(let error):
            return "GetWebSocketsToken failed: \(error)"
        case .connection(let reason):
            return "the WebSocket connection failed: \(reason); reconnecting with backoff"
        case .database(let reason):
            return "database error: \(reason)"
        case .configuration(let reason):
            return "configuration: \(reason)"
        }
    }

    /// Whether the next attempt should wait long (the key or the configuration needs a person).
    public var needsOperator: Bool {
        switch self {
        case .subscriptionRefused, .configuration: return true
        case .token(let e): return !e.isTemporary
        default: return false
        }
    }
}
