import AuditKernel
import AuditStore
import Collector
import Foundation
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers

/// One WebSocket connection's protocol (../shared/kraken-websocket.md): subscribe to `balances` and `executions`
/// with the connection's token, check both acknowledgements, store every streamed ledger entry and fill at once,
/// keep the connection honest with a watchdog, and ask for a REST gap fill once subscribed (and whenever a
/// sequence number jumps). Throws when the connection must end; the caller reconnects.
final class StreamSession: Sendable {
    /// The watchdog's limits (issue 20): silent this long → ping; this long → reconnect.
    struct Limits: Sendable {
        var pingAfter: Double = 5
        var reconnectAfter: Double = 10
    }

    let accountId: Int
    let connectionId: Int64
    let rows: StreamRows
    let db: any PGRunner
    let limits: Limits
    let logger: Logger
    /// Called with whether a withdrawal was among the new rows.
    let arrived: @Sendable (_ withdrawal: Bool) async -> Void
    /// Runs a store of rows that include a withdrawal (and its arrival notice) while no analysis runs
    /// (``ArrivalAnalyser/holding(upTo:_:)``).
    let holdingArrivals: @Sendable (_ store: @Sendable () async throws -> Void) async throws -> Void
    /// Runs one REST gap fill (the caller serialises it with the account's other collections).
    let fillGap: @Sendable (_ connectionId: Int64) async -> Void

    let counters = NIOLockedValueBox(WatchConnectionLog.Counters())
    let subscribedAt = NIOLockedValueBox<ContinuousClock.Instant?>(nil)

    init(
        accountId: Int, connectionId: Int64, rows: StreamRows, db: any PGRunner, limits: Limits, logger: Logger,
        arrived: @escaping @Sendable (Bool) async -> Void,
        holdingArrivals: @escaping @Sendable (@Sendable () async throws -> Void) async throws -> Void,
        fillGap: @escaping @Sendable (Int64) async -> Void
    ) {
        self.accountId = accountId
        self.connectionId = connectionId
        self.rows = rows
        self.db = db
        self.limits = limits
        self.logger = logger
        self.arrived = arrived
        self.holdingArrivals = holdingArrivals
        self.fillGap = fillGap
    }

    /// Seconds the connection has been subscribed to both channels (0 if it never was).
    var subscribedSeconds: Double {
        guard let at = subscribedAt.withLockedValue({ $0 }) else { return 0 }
        let d = ContinuousClock.now - at
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Serves the connection until it must end (always by throwing).
    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, token: String) async throws {
        let last = NIOLockedValueBox(ContinuousClock.now)
        let (gapRequests, gapContinuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        defer { gapContinuation.finish() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.watchdog(last: last, outbound: outbound) }
            group.addTask { try await self.read(inbound: inbound, outbound: outbound, token: token, last: last, gap: gapContinuation) }
            group.addTask {
                // Entries booked just before the subscriptions took effect are in neither the stream nor a REST
                // window ending "now minus the settle margin" until that margin has passed: wait it out first.
                for await _ in gapRequests {
                    try? await Task.sleep(for: .seconds(CollectOptions().settleSeconds + 1))
                    if Task.isCancelled { break }
                    await self.fillGap(self.connectionId)
                }
            }
            // The gap filler returns only when cancelled; the reader and the watchdog end the connection by throwing.
            while try await group.next() != nil {}
        }
    }

    /// No message for ``Limits/pingAfter`` → one application-level ping; none for ``Limits/reconnectAfter`` → end.
    private func watchdog(last: NIOLockedValueBox<ContinuousClock.Instant>, outbound: WebSocketOutboundWriter) async throws {
        var pingedAt: ContinuousClock.Instant? = nil
        var pingId = 1000
        var flushed = WatchConnectionLog.Counters()
        var flushedAt = ContinuousClock.now
        while true {
            try await Task.sleep(for: .milliseconds(250))
            // The connection's counters reach the database every few seconds (and at its end).
            if ContinuousClock.now - flushedAt >= .seconds(5) {
                flushedAt = .now
                let now = counters.withLockedValue { $0 }
                if now != flushed {
                    try await WatchConnectionLog.update(db, id: connectionId, counters: now, closeReason: nil)
                    flushed = now
                }
            }
            let lastMessage = last.withLockedValue { $0 }
            if let p = pingedAt, lastMessage > p { pingedAt = nil }
            let silent = ContinuousClock.now - lastMessage
            if silent >= .milliseconds(Int64(limits.reconnectAfter * 1000)) {
                throw WatchError.stalled(seconds: limits.reconnectAfter)
            }
            if silent >= .milliseconds(Int64(limits.pingAfter * 1000)), pingedAt == nil {
                pingId += 1
                pingedAt = .now
                logger.info("stream silent; pinging Kraken", metadata: ["silent_seconds": "\(limits.pingAfter)"])
                try await outbound.write(.text(#"{"method":"ping","req_id":\#(pingId)}"#))
            }
        }
    }

    private func read(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, token: String, last: NIOLockedValueBox<ContinuousClock.Instant>,
        gap: AsyncStream<Void>.Continuation
    ) async throws {
        // The token is a credential: it is sent, never logged.
        try await outbound.write(
            .text(#"{"method":"subscribe","params":{"channel":"balances","token":"\#(token)","snapshot":true},"req_id":1}"#))
        try await outbound.write(
            .text(
                #"{"method":"subscribe","params":{"channel":"executions","token":"\#(token)","snap_orders":false,"snap_trades":false},"req_id":2}"#
            ))
        var acked = Set<String>()
        var sequences: [String: Int] = [:]
        for try await message in inbound.messages(maxSize: 1 << 24) {
            last.withLockedValue { $0 = .now }
            guard case .text(let text) = message else { continue }
            counters.withLockedValue { $0.messages += 1 }
            let parsed: StreamMessage
            do {
                parsed = try StreamMessage.parse(text)
            } catch {
                // Whatever it carried, REST has it: log, and fill the gap from REST.
                logger.error("unreadable stream message; filling from REST", metadata: ["error": "\(error)"])
                gap.yield()
                continue
            }
            switch parsed {
            case .status(let system):
                let now = counters.withLockedValue {
                    $0.systemStatus = system
                    return $0
                }
                // Operators and analysts see Kraken's state at once (kraken.watch_connections), not at the close.
                try await WatchConnectionLog.update(db, id: connectionId, counters: now, closeReason: nil)
                if system == "online" {
                    logger.info("Kraken status", metadata: ["system": "\(system)"])
                } else {
                    logger.warning(
                        "Kraken is not online: trading may be paused; the stream stays connected and is filled from REST on reconnect",
                        metadata: ["system": "\(system)"])
                }
            case .subscribed(let channel, _):
                acked.insert(channel)
                logger.info("subscribed", metadata: ["channel": "\(channel)"])
                if acked.isSuperset(of: ["balances", "executions"]), subscribedAt.withLockedValue({ $0 }) == nil {
                    subscribedAt.withLockedValue { $0 = .now }
                    try await WatchConnectionLog.subscribed(db, id: connectionId)
                    gap.yield()
                }
            case .refused(let channel, let error, _):
                if error.contains("Invalid session") { throw WatchError.invalidSession(channel: channel) }
                throw WatchError.subscriptionRefused(channel: channel, error: error)
            case .balances(let type, let sequence, let data):
                if skip(channel: "balances", type: type, sequence: sequence, sequences: &sequences, gap: gap) { continue }
                guard type == "update" else { continue }  // the snapshot is balances, not ledger entries
                try await storeLedger(data, gap: gap)
            case .executions(let type, let sequence, let data):
                if skip(channel: "executions", type: type, sequence: sequence, sequences: &sequences, gap: gap) { continue }
                try await storeExecutions(data, gap: gap)
            case .error(let text):
                logger.warning("Kraken reported an error on the stream", metadata: ["error": "\(text)"])
            case .heartbeat, .pong, .other:
                break
            }
        }
        throw WatchError.closedByKraken(code: nil)
    }

    /// Sequence bookkeeping per channel: a repeated number is a duplicate (skipped); a jump means messages were
    /// lost, so REST fills the gap.
    private func skip(
        channel: String, type: String, sequence: Int?, sequences: inout [String: Int], gap: AsyncStream<Void>.Continuation
    ) -> Bool {
        guard let sequence else { return false }
        defer { sequences[channel] = max(sequence, sequences[channel] ?? 0) }
        guard type == "update", let previous = sequences[channel] else { return false }
        if sequence <= previous {
            counters.withLockedValue { $0.duplicates += 1 }
            return true
        }
        if sequence > previous + 1 {
            logger.warning(
                "stream skipped messages; filling from REST",
                metadata: ["channel": "\(channel)", "expected": "\(previous + 1)", "got": "\(sequence)"])
            gap.yield()
        }
        return false
    }

    private func storeLedger(_ data: [JSONValue], gap: AsyncStream<Void>.Continuation) async throws {
        var entries: [StreamStore.LedgerEntry] = []
        for o in data {
            do { entries.append(try rows.ledgerEntry(o)) } catch {
                logger.error("unreadable ledger entry on the stream; filling from REST", metadata: ["error": "\(error)"])
                gap.yield()
            }
        }
        guard !entries.isEmpty else { return }
        let (accountId, batch, db, counters, logger, arrived) = (self.accountId, entries, self.db, self.counters, self.logger, self.arrived)
        let store: @Sendable () async throws -> Void = {
            let stored = try await db.run { db in try StreamStore.storeLedger(db, accountId: accountId, entries: batch) }
            let withdrawal = batch.contains { stored.contains($0.ledgerId) && $0.type == "withdrawal" }
            counters.withLockedValue {
                $0.ledgerStored += stored.count
                $0.duplicates += batch.count - stored.count
            }
            if !stored.isEmpty {
                logger.info("streamed ledger entries stored", metadata: ["ids": "\(stored.joined(separator: ","))"])
                await arrived(withdrawal)
            }
        }
        if entries.contains(where: { $0.type == "withdrawal" }) {
            try await holdingArrivals(store)
        } else {
            try await store()
        }
    }

    /// Fills become trades; placed, cancelled, expired and filled orders update `audit.orders`.
    private func storeExecutions(_ data: [JSONValue], gap: AsyncStream<Void>.Continuation) async throws {
        var trades: [StreamStore.Trade] = []
        var orders: [StreamStore.OrderEvent] = []
        for o in data {
            do {
                if let t = try rows.trade(o) { trades.append(t) }
                if let e = try rows.orderEvent(o) { orders.append(e) }
            } catch {
                logger.error("unreadable execution on the stream; filling from REST", metadata: ["error": "\(error)"])
                gap.yield()
            }
        }
        guard !trades.isEmpty || !orders.isEmpty else { return }
        let (accountId, tradeBatch, orderBatch) = (self.accountId, trades, orders)
        let (stored, orderVersions) = try await db.run { db in
            (
                try StreamStore.storeTrades(db, accountId: accountId, trades: tradeBatch),
                try StreamStore.storeOrders(db, accountId: accountId, events: orderBatch)
            )
        }
        counters.withLockedValue {
            $0.tradesStored += stored.count
            $0.duplicates += trades.count - stored.count
        }
        if !stored.isEmpty || orderVersions > 0 {
            logger.info(
                "streamed executions stored",
                metadata: ["trades": "\(stored.joined(separator: ","))", "order_versions": "\(orderVersions)"])
            await arrived(false)
        }
    }
}
