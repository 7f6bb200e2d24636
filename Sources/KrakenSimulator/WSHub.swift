import AuditKernel
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// The WebSocket v2 connections of a simulator (/work/notes/ws-protocol.md): who is connected, subscribed to what,
/// at which sequence, and the faults acting on them. Messages go through each connection's queue, which a single
/// writer drains, so acks, snapshots and updates leave in the order they were queued. Updates are queued by the
/// state actor the moment the history grows (``accountGrew(_:)``), so there is no polling delay.
final class WSHub: Sendable {
    /// What a connection's writer receives.
    enum Outgoing: Sendable {
        /// A message; `update` ones count in `sent_updates`.
        case text(String, update: Bool)
        /// Once a second: send a heartbeat if the connection is subscribed and sent nothing for a second.
        case tick
    }

    struct Connection {
        let id: UInt64
        let channel: any Channel
        let continuation: AsyncStream<Outgoing>.Continuation
        let connectedAt: String
        /// The account a successful private subscription authorised the connection for.
        var account: String? = nil
        /// Channel → sequence of the last message sent on that subscription.
        var sequences: [String: Int] = [:]
        var subscriptionOrder: [String] = []
        var stalledUntil: ContinuousClock.Instant? = nil
        var sentUpdates = 0
    }

    private struct Hub {
        var connections: [UInt64: Connection] = [:]
        var nextSerial: UInt64 = 1
        var system = "online"
        /// Account (or "" for every account) → update messages still to be sent twice.
        var duplicates: [String: Int] = [:]
    }

    private let box = NIOLockedValueBox(Hub())
    private let idSeed: UInt64

    init(seed: UInt64) { idSeed = seed }

    /// The current system status (`online`, `maintenance`, `cancel_only`, `post_only`).
    var system: String { box.withLockedValue { $0.system } }

    // MARK: Connections

    /// Registers a connection and queues its status message; returns its `connection_id`.
    func register(channel: any Channel, continuation: AsyncStream<Outgoing>.Continuation, connectedAt: String) -> UInt64 {
        box.withLockedValue { hub in
            // Like Kraken's, above Int64's range (clients must decode UInt64).
            let id = (UInt64(1) << 63) | (SplitMix64.mix(idSeed &+ hub.nextSerial) >> 1)
            hub.nextSerial += 1
            hub.connections[id] = Connection(id: id, channel: channel, continuation: continuation, connectedAt: connectedAt)
            continuation.yield(.text(WSWire.status(system: hub.system, connectionID: id), update: false))
            return id
        }
    }

    func unregister(_ id: UInt64) {
        let gone = box.withLockedValue { $0.connections.removeValue(forKey: id) }
        gone?.continuation.finish()
    }

    /// Queues a reply (ack, error, pong) on one connection.
    func send(_ id: UInt64, _ text: String) {
        box.withLockedValue { hub in _ = hub.connections[id]?.continuation.yield(.text(text, update: false)) }
    }

    func account(of id: UInt64) -> String? { box.withLockedValue { $0.connections[id]?.account } }

    func isSubscribed(_ id: UInt64, channel: String) -> Bool {
        box.withLockedValue { $0.connections[id]?.sequences[channel] != nil }
    }

    /// Whether the connection has a subscription and is not stalled (heartbeats are due).
    func wantsHeartbeat(_ id: UInt64) -> Bool {
        box.withLockedValue { hub in
            guard let c = hub.connections[id], !c.sequences.isEmpty else { return false }
            return !Self.stalled(c)
        }
    }

    /// Whether the writer must stay silent (the `stall` fault).
    func isStalled(_ id: UInt64) -> Bool { box.withLockedValue { hub in hub.connections[id].map(Self.stalled) ?? false } }

    private static func stalled(_ c: Connection) -> Bool {
        guard let until = c.stalledUntil else { return false }
        return ContinuousClock.now < until
    }

    func noteUpdateSent(_ id: UInt64) { box.withLockedValue { $0.connections[id]?.sentUpdates += 1 } }

    /// Starts a subscription: authorises the connection for `account`, queues the ack and (when given) the
    /// snapshot as sequence 1. Called by the state actor, so no update of the account can slip in between.
    func subscribe(_ id: UInt64, account: String, channel: String, ack: String, snapshot: [JSONValue]?) {
        box.withLockedValue { hub in
            guard var c = hub.connections[id] else { return }
            c.account = account
            c.continuation.yield(.text(ack, update: false))
            var sequence = 0
            if let snapshot {
                sequence = 1
                c.continuation.yield(
                    .text(WSWire.channelMessage(channel: channel, type: "snapshot", sequence: 1, data: snapshot), update: false))
            }
            c.sequences[channel] = sequence
            c.subscriptionOrder.append(channel)
            hub.connections[id] = c
        }
    }

    /// Ends a subscription; false if there was none.
    func unsubscribe(_ id: UInt64, channel: String) -> Bool {
        box.withLockedValue { hub in
            guard hub.connections[id]?.sequences.removeValue(forKey: channel) != nil else { return false }
            hub.connections[id]?.subscriptionOrder.removeAll { $0 == channel }
            return true
        }
    }

    // MARK: Updates

    /// Whether any connection of `account` is subscribed to `channel`.
    func hasSubscribers(account: String, channel: String) -> Bool {
        box.withLockedValue { hub in hub.connections.values.contains { $0.account == account && $0.sequences[channel] != nil } }
    }

    /// Queues one update message per item on every connection of `account` subscribed to `channel`.
    func publish(account: String, channel: String, items: [JSONValue]) {
        guard !items.isEmpty else { return }
        box.withLockedValue { hub in
            for id in hub.connections.keys.sorted() {
                guard var c = hub.connections[id], c.account == account, var sequence = c.sequences[channel] else { continue }
                for item in items {
                    sequence += 1
                    let text = WSWire.channelMessage(channel: channel, type: "update", sequence: sequence, data: [item])
                    c.continuation.yield(.text(text, update: true))
                    for key in [account, ""] where (hub.duplicates[key] ?? 0) > 0 {
                        hub.duplicates[key, default: 0] -= 1
                        c.continuation.yield(.text(text, update: true))
                        break
                    }
                }
                c.sequences[channel] = sequence
                hub.connections[id] = c
            }
        }
    }

    /// Streams what `account`'s history gained since the last call (ledger entries on `balances`; orders, their
    /// trades and cancellations on `executions`) and moves the account's watermarks past it. Rows gained while
    /// nobody is subscribed are skipped (REST has them).
    func accountGrew(_ a: SimAccount) {
        let h = a.builder.history
        var newLedger: [LedgerRow] = []
        for row in h.ledger.reversed() {
            if row.serial <= a.streamedLedgerSerial { break }
            newLedger.append(row)
        }
        var newTrades: [TradeRow] = []
        for t in h.trades.reversed() {
            if t.serial <= a.streamedTradeSerial { break }
            newTrades.append(t)
        }
        var newOrders: [OrderRow] = []
        for o in h.orders.reversed() {
            if o.serial <= a.streamedOrderSerial { break }
            newOrders.append(o)
        }
        newLedger.reverse()
        newTrades.reverse()
        newOrders.sort { $0.serial < $1.serial }
        if let s = newLedger.last?.serial { a.streamedLedgerSerial = s }
        if let s = newTrades.last?.serial { a.streamedTradeSerial = s }
        if let s = newOrders.last?.serial { a.streamedOrderSerial = s }

        if !newLedger.isEmpty, hasSubscribers(account: a.name, channel: "balances") {
            publish(account: a.name, channel: "balances", items: newLedger.map { WSWire.ledgerItem($0, history: h) })
        }
        if !(newOrders.isEmpty && newTrades.isEmpty), hasSubscribers(account: a.name, channel: "executions") {
            var items: [JSONValue] = []
            var pending = newTrades
            for o in newOrders {
                items.append(WSWire.newReport(o, history: h))
                for t in pending where t.orderSerial == o.serial {
                    items.append(WSWire.tradeReport(t, orderStatus: WSWire.tradeOrderStatus(t, history: h), history: h))
                }
                pending.removeAll { $0.orderSerial == o.serial }
                if let close = WSWire.closeReport(o, history: h) { items.append(close) }
            }
            // Fills of orders placed before (none today, kept for run-time fills of open orders).
            for t in pending {
                items.append(WSWire.tradeReport(t, orderStatus: WSWire.tradeOrderStatus(t, history: h), history: h))
            }
            publish(account: a.name, channel: "executions", items: items)
        }
    }

    // MARK: Faults and controls

    private func matching(_ account: String?) -> (Connection) -> Bool { { account == nil || $0.account == account } }

    /// Closes the TCP connections of `account` (every one if nil) without a close frame; returns how many.
    @discardableResult
    func drop(account: String?) -> Int {
        let victims = box.withLockedValue { hub in
            let ids = hub.connections.values.filter(matching(account)).map(\.id)
            return ids.compactMap { hub.connections.removeValue(forKey: $0) }
        }
        for c in victims {
            c.continuation.finish()
            // SO_LINGER 0: an abrupt reset, as a dropped upstream connection gives (no close handshake).
            if let provider = c.channel as? any SocketOptionProvider {
                _ = provider.setSoLinger(linger(l_onoff: 1, l_linger: 0))
            }
            c.channel.close(promise: nil)
        }
        return victims.count
    }

    /// Silences the connections of `account` (all if nil) for `seconds` (nil: until they close); returns how many.
    @discardableResult
    func stall(account: String?, seconds: Double?) -> Int {
        let until = ContinuousClock.now + .milliseconds(Int64(min(seconds ?? 1e9, 1e9) * 1000))
        return box.withLockedValue { hub in
            let ids = hub.connections.values.filter(matching(account)).map(\.id)
            for id in ids { hub.connections[id]?.stalledUntil = until }
            return ids.count
        }
    }

    /// The next `count` update messages (of `account`, or of anyone) are each sent twice.
    func duplicate(account: String?, count: Int) {
        box.withLockedValue { $0.duplicates[account ?? "", default: 0] += max(0, count) }
    }

    /// Sets the system status and pushes it to every connection (when it changed).
    func setSystem(_ system: String) {
        box.withLockedValue { hub in
            guard hub.system != system else { return }
            hub.system = system
            for c in hub.connections.values {
                c.continuation.yield(.text(WSWire.status(system: system, connectionID: c.id), update: false))
            }
        }
    }

    /// `[{"account","connection_id","subscriptions","connected_at","sent_updates"}]`, oldest connection first.
    func connectionsJSON() -> JSONValue {
        box.withLockedValue { hub in
            .array(
                hub.connections.values.sorted { ($0.connectedAt, $0.id) < ($1.connectedAt, $1.id) }.map { c in
                    .object([
                        ("account", c.account.map(JSONValue.string) ?? .null), ("connection_id", .number(String(c.id))),
                        ("subscriptions", .array(c.subscriptionOrder.map(JSONValue.string))),
                        ("connected_at", .string(c.connectedAt)), ("sent_updates", .number(String(c.sentUpdates))),
                    ])
                })
        }
    }
}
