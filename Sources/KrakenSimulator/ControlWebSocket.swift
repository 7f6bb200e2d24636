import AuditKernel
import Foundation

/// `/_sim/ws/...` (loopback only, like every `/_sim` endpoint): faults and a view of the WebSocket v2 endpoint
/// (/work/notes/ws-protocol.md). Not part of Kraken's API.
extension SimulatorState {
    /// Handles `/_sim/ws/<action>`; `field` reads a body or query field (strings or numbers as text).
    func webSocketControl(method: String, path: String, field: (String) -> String?) throws(SimulatorError) -> JSONValue {
        let action = String(path.dropFirst("/_sim/ws/".count))
        let account = field("account").flatMap { $0.isEmpty ? nil : $0 }
        func number(_ name: String) throws(SimulatorError) -> Double? {
            guard let text = field(name) else { return nil }
            guard let v = Double(text), v.isFinite else { throw .invalidOption("'\(name)' must be a number, not '\(text)'") }
            return v
        }
        switch (method, action) {
        case ("GET", "connections"):
            return webSocketConnections()
        case ("POST", "drop"):
            return .object([("dropped", .number(String(try webSocketDrop(account: account))))])
        case ("POST", "stall"):
            let n = try webSocketStall(account: account, seconds: try number("seconds"))
            return .object([("stalled", .number(String(n)))])
        case ("POST", "duplicate"):
            guard let count = try number("count") else { throw .invalidOption("'count' is required") }
            try webSocketDuplicate(account: account, count: Int(count))
            return .object([("duplicate", .number(String(Int(count))))])
        case ("POST", "expire-tokens"):
            let next = Int(try number("next") ?? 0)
            return .object([("expired", .number(String(try webSocketExpireTokens(account: account, next: next))))])
        case ("POST", "status"):
            guard let system = field("system") else { throw .invalidOption("'system' is required") }
            try webSocketSetSystemStatus(system)
            return .object([("system", .string(system))])
        default:
            throw .invalidOption(
                "unknown WebSocket control \(method) \(path); use GET /_sim/ws/connections or POST /_sim/ws/drop|stall|duplicate|expire-tokens|status"
            )
        }
    }
}
