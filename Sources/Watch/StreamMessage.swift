import AuditKernel

/// One message of Kraken's WebSocket v2 (../shared/kraken-websocket.md §2-6), decoded just far enough to route it.
/// Numbers stay JSON number text (``JSONValue``), so amounts are never a `Double`.
public enum StreamMessage: Sendable, Equatable {
    /// `status` channel: Kraken's engine state (`online`, `maintenance`, `cancel_only`, `post_only`).
    case status(system: String)
    case heartbeat
    case pong(reqId: Int?)
    /// A subscription acknowledged (`success: true`).
    case subscribed(channel: String, reqId: Int?)
    /// A subscription refused (`success: false`), with Kraken's error string.
    case refused(channel: String, error: String, reqId: Int?)
    /// `balances` (`type` snapshot or update): the data array's objects.
    case balances(type: String, sequence: Int?, data: [JSONValue])
    /// `executions` (`type` snapshot or update).
    case executions(type: String, sequence: Int?, data: [JSONValue])
    /// An error not tied to a subscription (`{"method":"error","error":"Malformed request"}`).
    case error(String)
    /// Anything else (other methods, unsubscribe acks): ignored.
    case other

    /// Decodes one text frame.
    public static func parse(_ text: String) throws(WatchError) -> StreamMessage {
        let value: JSONValue
        do { value = try JSONValue.parse(text) } catch { throw .malformed(reason: error.description) }
        guard value.objectMembers != nil else { throw .malformed(reason: "not a JSON object") }
        let reqId = value["req_id"]?.numberText.flatMap { Int($0) }
        if let method = value["method"]?.stringValue {
            switch method {
            case "pong": return .pong(reqId: reqId)
            case "subscribe":
                let channel = value["result"]?["channel"]?.stringValue ?? value["channel"]?.stringValue ?? "?"
                if value["success"] == .bool(true) { return .subscribed(channel: channel, reqId: reqId) }
                return .refused(channel: channel, error: value["error"]?.stringValue ?? "no error text", reqId: reqId)
            case "error": return .error(value["error"]?.stringValue ?? text)
            default:
                if value["success"] == .bool(false) { return .error(value["error"]?.stringValue ?? text) }
                return .other
            }
        }
        guard let channel = value["channel"]?.stringValue else { return .other }
        let type = value["type"]?.stringValue ?? ""
        let sequence = value["sequence"]?.numberText.flatMap { Int($0) }
        switch channel {
        case "heartbeat": return .heartbeat
        case "status":
            let system = value["data"]?.arrayValue?.first?["system"]?.stringValue ?? "unknown"
            return .status(system: system)
        case "balances", "executions":
            guard let data = value["data"]?.arrayValue else { throw .malformed(reason: "\(channel) message without a data array") }
            return channel == "balances"
                ? .balances(type: type, sequence: sequence, data: data) : .executions(type: type, sequence: sequence, data: data)
        default: return .other
        }
    }
}
