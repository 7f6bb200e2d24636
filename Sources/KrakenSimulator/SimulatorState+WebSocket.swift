import AuditKernel
import Foundation
import NIOCore

/// A token from `GetWebSocketsToken`: bound to its account, usable for new subscriptions for 900 s of the
/// monotonic clock (`advance_monotonic_seconds` ages it) until `/_sim/ws/expire-tokens`.
struct WSToken: Sendable {
    let account: String
    let created: Double
    var revoked = false
}

/// The WebSocket v2 endpoint's side of the state (/work/notes/ws-protocol.md): tokens, requests of a connection,
/// snapshots, and the fault controls (also under `/_sim/ws/...`, ControlWebSocket.swift).
extension SimulatorState {
    /// Seconds a token may be used to subscribe after its creation (kraken-websocket.md §2).
    static let wsTokenLifetime: Double = 900

    /// `GetWebSocketsToken`: `{"token": 43 chars of [A-Za-z0-9+/], "expires": 900}`.
    func issueWebSocketToken(_ a: SimAccount) -> JSONValue {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var token = ""
        repeat {
            token = String((0..<43).map { _ in alphabet[wsTokenRNG.int(0..<alphabet.count)] })
        } while wsTokens[token] != nil
        // A token Kraken invalidates right after issuing it (as a WebSocket upgrade once did, kraken-websocket.md §1).
        let revoked = (wsRevokeNext[a.name] ?? 0) > 0
        if revoked { wsRevokeNext[a.name, default: 0] -= 1 }
        wsTokens[token] = WSToken(account: a.name, created: monotonicNow(), revoked: revoked)
        return .object([("token", .string(token)), ("expires", .number(String(Int(Self.wsTokenLifetime))))])
    }

    /// Issues a token for `account` without a REST call (in-process tests).
    public func webSocketToken(account: String) throws(SimulatorError) -> String {
        issueWebSocketToken(try find(account))["token"]?.stringValue ?? ""
    }

    /// Simulated now as the WebSocket API writes times (`time_in`, `time_out`, `connected_at`).
    func wsNow() -> String { WSWire.timestamp(nowTicks()) }

    /// Handles one text message of connection `id`, queueing the answers on it.
    func webSocketRequest(_ text: String, connection id: UInt64) {
        let timeIn = wsNow()
        guard let request = try? JSONValue.parse(text), request.objectMembers != nil, let method = request["method"]?.stringValue
        else {
            wsHub.send(id, WSWire.malformed(timeIn: timeIn, timeOut: wsNow()))
            return
        }
        let reqID = request["req_id"]
        switch method {
        case "ping":
            wsHub.send(id, WSWire.pong(reqID: reqID, timeIn: timeIn, timeOut: wsNow()))
        case "subscribe":
            wsSubscribe(request["params"] ?? .object([]), connection: id, reqID: reqID, timeIn: timeIn)
        case "unsubscribe":
            let channel = request["params"]?["channel"]?.stringValue ?? ""
            if wsHub.unsubscribe(id, channel: channel) {
                wsHub.send(
                    id, WSWire.ack(method: method, result: [("channel", .string(channel))], reqID: reqID, timeIn: timeIn, timeOut: wsNow()))
            } else {
                wsHub.send(
                    id,
                    WSWire.failure(
                        method: method, channel: channel, error: "Subscription Not Found", reqID: reqID, timeIn: timeIn, timeOut: wsNow()))
            }
        default:
            wsHub.send(id, WSWire.malformed(timeIn: timeIn, timeOut: wsNow()))
        }
    }

    private func wsSubscribe(_ params: JSONValue, connection id: UInt64, reqID: JSONValue?, timeIn: String) {
        let channel = params["channel"]?.stringValue ?? ""
        func fail(_ error: String) {
            wsHub.send(
                id, WSWire.failure(method: "subscribe", channel: channel, error: error, reqID: reqID, timeIn: timeIn, timeOut: wsNow()))
        }
        guard channel == "balances" || channel == "executions" else {
            fail("Channel \(channel.isEmpty ? "(missing)" : channel) not supported")
            return
        }
        // A connection already authorised by a private subscription keeps that authorisation; otherwise the token
        // must be known, unrevoked and younger than 900 s. Either way it must belong to the connection's account.
        let authorised = wsHub.account(of: id)
        guard let tokenText = params["token"]?.stringValue, let token = wsTokens[tokenText],
            authorised == nil || authorised == token.account,
            authorised != nil || (!token.revoked && monotonicNow() - token.created <= Self.wsTokenLifetime),
            let a = accounts.first(where: { $0.name == token.account })
        else {
            fail("ESession:Invalid session")
            return
        }
        let granted = a.key.permissions
        let allowed =
            channel == "balances"
            ? granted.contains("query-funds") : granted.contains("query-open-trades") || granted.contains("query-closed-trades")
        guard allowed else {
            fail("EAccount:Invalid permissions")
            return
        }
        guard !wsHub.isSubscribed(id, channel: channel) else {
            fail("Already subscribed")
            return
        }
        let h = a.builder.history
        if channel == "balances" {
            let snapshot = bool(params["snapshot"]) ?? true
            let ack = WSWire.ack(
                method: "subscribe", result: [("channel", .string(channel)), ("snapshot", .bool(snapshot))], reqID: reqID, timeIn: timeIn,
                timeOut: wsNow())
            wsHub.subscribe(id, account: a.name, channel: channel, ack: ack, snapshot: snapshot ? WSWire.balancesSnapshot(a) : nil)
        } else {
            let snapOrders = bool(params["snap_orders"]) ?? true
            let snapTrades = bool(params["snap_trades"]) ?? false
            let ack = WSWire.ack(
                method: "subscribe",
                result: [
                    ("channel", .string(channel)), ("snap_orders", .bool(snapOrders)), ("snap_trades", .bool(snapTrades)),
                    ("maxratecount", .number("125")),
                ], reqID: reqID, timeIn: timeIn, timeOut: wsNow())
            var data: [JSONValue] = []
            if snapOrders { data += h.orders.filter { $0.status == .open }.map { WSWire.newReport($0, history: h) } }
            if snapTrades {
                data += h.trades.suffix(50).map {
                    WSWire.tradeReport($0, orderStatus: WSWire.tradeOrderStatus($0, history: h), history: h)
                }
            }
            wsHub.subscribe(id, account: a.name, channel: channel, ack: ack, snapshot: snapOrders || snapTrades ? data : nil)
        }
    }

    private func bool(_ value: JSONValue?) -> Bool? {
        guard let value else { return nil }
        if case .bool(let b) = value { return b }
        return nil
    }

    // MARK: Faults and controls (public for in-process tests; `/_sim/ws/...` calls the same)

    /// Closes every WebSocket connection of `account` (all if nil) abruptly; returns how many.
    @discardableResult
    public func webSocketDrop(account: String? = nil) throws(SimulatorError) -> Int {
        if let account { _ = try find(account) }
        return wsHub.drop(account: account)
    }

    /// Silences the connections of `account` (all if nil) for `seconds` (nil: until the client closes); returns
    /// how many.
    @discardableResult
    public func webSocketStall(account: String? = nil, seconds: Double? = nil) throws(SimulatorError) -> Int {
        if let account { _ = try find(account) }
        if let seconds, !(seconds > 0) { throw .invalidOption("'seconds' must be positive") }
        return wsHub.stall(account: account, seconds: seconds)
    }

    /// The next `count` update messages (of `account`'s connections, or anyone's) are each sent twice.
    public func webSocketDuplicate(account: String? = nil, count: Int) throws(SimulatorError) {
        if let account { _ = try find(account) }
        guard count > 0 else { throw .invalidOption("'count' must be positive") }
        wsHub.duplicate(account: account, count: count)
    }

    /// Every token issued so far (to `account`, or to anyone) becomes invalid for new subscriptions; returns how many.
    /// With `next` (and an account), the account's next `next` tokens are issued already invalid: the subscription
    /// with such a token gets `ESession:Invalid session`.
    @discardableResult
    public func webSocketExpireTokens(account: String? = nil, next: Int = 0) throws(SimulatorError) -> Int {
        if let account { _ = try find(account) }
        if next > 0 {
            guard let account else { throw .invalidOption("'next' needs 'account'") }
            wsRevokeNext[account, default: 0] += next
        }
        var n = 0
        for (text, token) in wsTokens where !token.revoked && (account == nil || token.account == account) {
            wsTokens[text]?.revoked = true
            n += 1
        }
        return n
    }

    /// Values of ``webSocketSetSystemStatus(_:)``.
    public static let webSocketSystemStates = ["online", "maintenance", "cancel_only", "post_only"]

    /// Sets the system status and pushes it to every connection; new connections get it on connect.
    public func webSocketSetSystemStatus(_ system: String) throws(SimulatorError) {
        guard Self.webSocketSystemStates.contains(system) else {
            throw .invalidOption("'system' must be one of \(Self.webSocketSystemStates.joined(separator: ", "))")
        }
        wsHub.setSystem(system)
    }

    /// The open WebSocket connections: `[{"account","connection_id","subscriptions","connected_at","sent_updates"}]`.
    public func webSocketConnections() -> JSONValue { wsHub.connectionsJSON() }

    /// Registers a new connection (the server's upgrade handler) and queues its status message.
    func webSocketConnected(channel: any NIOCore.Channel, continuation: AsyncStream<WSHub.Outgoing>.Continuation) -> UInt64 {
        wsHub.register(channel: channel, continuation: continuation, connectedAt: wsNow())
    }
}
