import AuditKernel
import Foundation
import KrakenSimulator
import Testing

/// The simulator's WebSocket v2 endpoint over a real WebSocket client (WSClient), against the contract in
/// /work/notes/ws-protocol.md: token over signed REST, status, subscriptions, snapshots, updates equal to REST's
/// rows, errors, ping/heartbeat and the `/_sim/ws` faults. Every wait polls with a deadline.
@Suite struct WebSocketTests {
    /// Nonces for signed calls: increasing per process, so several calls in one test are accepted.
    static let nonces = CounterNonces(start: 1_800_000_000_000)

    static func signed(_ sim: SimulatorServer, account: Int = 0, _ method: String, _ fields: String = "") async throws -> JSONValue {
        let nonce = try await nonces.nextNonce()
        return try await RawHTTP.signedPost(
            sim, account: account, method: method, nonce: nonce, body: "nonce=\(nonce)" + (fields.isEmpty ? "" : "&" + fields))
    }

    static func token(_ sim: SimulatorServer, account: Int = 0) async throws -> String {
        let answer = try await signed(sim, account: account, "GetWebSocketsToken")
        return try #require(answer["result"]?["token"]?.stringValue, "GetWebSocketsToken answered \(answer.jsonText)")
    }

    /// Connects, checks the status message and subscribes to `channel`; returns the probe after the ack.
    static func subscribed(_ sim: SimulatorServer, _ channel: String, token: String, extra: String = "") async throws -> WSProbe {
        let probe = try await WSProbe.connect(sim.webSocketURL)
        #expect(await probe.waitFor(where: WS.channel("status")) != nil)
        try await probe.send(WS.subscribe(channel, token: token, reqID: 1, extra: extra))
        let ack = try #require(await probe.waitFor(where: WS.reply("subscribe", reqID: 1)))
        #expect(ack["success"] == .bool(true), "subscribe answered \(ack.jsonText)")
        return probe
    }

    @Test func tokenStatusSnapshotAndLedgerUpdatesEqualREST() async throws {
        try await TestSim.with { sim in
            #expect(sim.webSocketURL.absoluteString == "ws://127.0.0.1:\(sim.port)/v2")
            let answer = try await Self.signed(sim, "GetWebSocketsToken")
            #expect(answer["error"] == .array([]))
            let token = try #require(answer["result"]?["token"]?.stringValue)
            #expect(token.count == 43 && token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "/") })
            #expect(answer["result"]?["expires"]?.numberText == "900")

            let probe = try await WSProbe.connect(sim.webSocketURL)
            let status = try #require(await probe.waitFor(where: WS.channel("status", type: "update")))
            let info = try #require(WS.item(status))
            #expect(info["system"]?.stringValue == "online" && info["api_version"]?.stringValue == "v2")
            #expect(info["version"]?.stringValue == "2.0.0")
            #expect(info["connection_id"]?.numberText.flatMap(UInt64.init) != nil)
            #expect(await probe.messages.first.map(WS.channel("status")) == true, "the status is the first message")

            try await probe.send(WS.subscribe("balances", token: token, reqID: 1, extra: #","snapshot":true"#))
            let ack = try #require(await probe.waitFor(where: WS.reply("subscribe", reqID: 1)))
            #expect(ack["success"] == .bool(true) && ack["result"]?["channel"]?.stringValue == "balances")
            #expect(ack["result"]?["snapshot"] == .bool(true) && ack["time_in"]?.stringValue != nil && ack["time_out"]?.stringValue != nil)
            let snapshot = try #require(await probe.waitFor(where: WS.channel("balances", type: "snapshot")))
            #expect(WS.sequence(snapshot) == 1)
            // The snapshot's BTC spot wallet is REST Balance's XXBT, digit for digit.
            let balance = try await Self.signed(sim, "Balance")
            let btc = try #require(snapshot["data"]?.arrayValue?.first { $0["asset"]?.stringValue == "BTC" })
            #expect(btc["asset_class"]?.stringValue == "currency")
            let spot = btc["wallets"]?.arrayValue?.first { $0["type"]?.stringValue == "spot" && $0["id"]?.stringValue == "main" }
            #expect(spot?["balance"]?.numberText == balance["result"]?["XXBT"]?.stringValue)

            let connections = try await RawHTTP.control(sim, "/_sim/ws/connections")
            let mine = try #require(connections.arrayValue?.first)
            #expect(mine["account"]?.stringValue == "acct1" && mine["subscriptions"] == .array([.string("balances")]))
            #expect(mine["connection_id"]?.numberText == info["connection_id"]?.numberText)

            // Two trades = four ledger entries, streamed one per message with sequence 2...5.
            let added = try await RawHTTP.control(sim, "/_sim/activity", method: "POST", json: #"{"account":"acct1","trades":2}"#)
            #expect(added["ledger_entries_added"]?.numberText == "4")
            let updates = await probe.waitForCount(4, where: WS.channel("balances", type: "update"))
            #expect(updates.compactMap(WS.sequence) == [2, 3, 4, 5])
            let ledgers = try await Self.signed(sim, "Ledgers")
            let rest = try #require(ledgers["result"]?["ledger"])
            for update in updates {
                let item = try #require(WS.item(update))
                let id = try #require(item["ledger_id"]?.stringValue)
                let row = try #require(rest[id], "REST Ledgers has no \(id)")
                #expect(item["ref_id"]?.stringValue == row["refid"]?.stringValue)
                #expect(item["amount"]?.numberText == row["amount"]?.stringValue)
                #expect(item["fee"]?.numberText == row["fee"]?.stringValue)
                #expect(item["balance"]?.numberText == row["balance"]?.stringValue)
                #expect(
                    item["type"]?.stringValue == row["type"]?.stringValue && item["subtype"]?.stringValue == row["subtype"]?.stringValue)
                #expect(item["category"]?.stringValue == "trade" && item["wallet_type"]?.stringValue == "spot")
                #expect(Self.sameInstant(item["timestamp"]?.stringValue, restTime: row["time"]?.numberText))
            }
            // A planted withdrawal arrives too, in the withdrawal category.
            _ = try await RawHTTP.control(
                sim, "/_sim/plant", method: "POST", json: #"{"account":"acct1","kind":"withdrawal_unknown_address"}"#)
            let withdrawal = await probe.waitFor { WS.item($0)?["category"]?.stringValue == "withdrawal" }
            #expect(withdrawal.flatMap(WS.item)?["type"]?.stringValue == "withdrawal")
            #expect(await sim.state.webSocketConnections().arrayValue?.first?["sent_updates"]?.numberText.flatMap(Int.init) ?? 0 >= 5)
            await probe.close()
        }
    }

    /// `2026-10-31T08:13:00.123400Z` names the same instant as REST's `1793441580.1234`.
    static func sameInstant(_ timestamp: String?, restTime: String?) -> Bool {
        guard let timestamp, let restTime else { return false }
        let parts = restTime.split(separator: ".")
        guard parts.count == 2, let seconds = TimeInterval(parts[0]), timestamp.hasSuffix(".\(parts[1])00Z") else { return false }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: seconds)) == String(timestamp.prefix(19)) + "Z"
    }

    @Test func executionsSnapshotAndOrderUpdatesEqualREST() async throws {
        try await TestSim.with { sim in
            let token = try await Self.token(sim)
            let probe = try await Self.subscribed(sim, "executions", token: token, extra: #","snap_orders":true,"snap_trades":true"#)
            let ack = try #require(await probe.waitFor(where: WS.reply("subscribe", reqID: 1)))
            #expect(ack["result"]?["maxratecount"]?.numberText == "125" && ack["result"]?["snap_trades"] == .bool(true))
            let snapshot = try #require(await probe.waitFor(where: WS.channel("executions", type: "snapshot")))
            #expect(WS.sequence(snapshot) == 1)
            let data = snapshot["data"]?.arrayValue ?? []
            let open = try await Self.signed(sim, "OpenOrders")
            let openCount = open["result"]?["open"]?.membersCount ?? -1
            #expect(data.filter { $0["exec_type"]?.stringValue == "new" }.count == openCount)
            #expect(data.filter { $0["exec_type"]?.stringValue == "trade" }.count == 50)

            let order = try await RawHTTP.control(sim, "/_sim/order", method: "POST", json: #"{"account":"acct1","side":"buy"}"#)
            let orderID = try #require(order["ordertxid"]?.stringValue)
            let tradeID = try #require(order["trade_txid"]?.stringValue)
            let updates = await probe.waitForCount(2, where: WS.channel("executions", type: "update"))
            #expect(updates.compactMap(WS.sequence) == [2, 3])
            let placed = try #require(updates.first.flatMap(WS.item))
            #expect(placed["exec_type"]?.stringValue == "new" && placed["order_id"]?.stringValue == orderID)
            #expect(placed["symbol"]?.stringValue == "BTC/USD" && placed["order_type"]?.stringValue == "market")
            let fill = try #require(updates.last.flatMap(WS.item))
            #expect(fill["exec_type"]?.stringValue == "trade" && fill["order_status"]?.stringValue == "filled")
            #expect(fill["exec_id"]?.stringValue == tradeID && fill["order_id"]?.stringValue == orderID)
            let trades = try await Self.signed(sim, "QueryTrades", "txid=\(tradeID)")
            let trade = try #require(trades["result"]?[tradeID])
            #expect(fill["last_qty"]?.numberText == trade["vol"]?.stringValue)
            #expect(fill["last_price"]?.numberText == trade["price"]?.stringValue)
            #expect(fill["cost"]?.numberText == trade["cost"]?.stringValue)
            #expect(fill["fees"]?.arrayValue?.first?["qty"]?.numberText == trade["fee"]?.stringValue)
            #expect(fill["fees"]?.arrayValue?.first?["asset"]?.stringValue == "USD")
            #expect(fill["trade_id"]?.numberText == trade["trade_id"]?.numberText)
            let orders = try await Self.signed(sim, "QueryOrders", "txid=\(orderID)")
            #expect(placed["order_qty"]?.numberText == orders["result"]?[orderID]?["vol"]?.stringValue)

            // A cancelled order (the off-hours order plant): new, then canceled with Kraken's reason.
            _ = try await RawHTTP.control(sim, "/_sim/plant", method: "POST", json: #"{"account":"acct1","kind":"off_hours_order"}"#)
            let canceled = await probe.waitFor { WS.item($0)?["exec_type"]?.stringValue == "canceled" }
            #expect(canceled.flatMap(WS.item)?["reason"]?.stringValue == "User requested")
            await probe.close()
        }
    }

    @Test func invalidExpiredForeignTokensAndPermissions() async throws {
        try await TestSim.with { sim in
            let probe = try await WSProbe.connect(sim.webSocketURL)
            try await probe.send(WS.subscribe("balances", token: "not-a-token", reqID: 11))
            let bad = try #require(await probe.waitFor(where: WS.reply("subscribe", reqID: 11)))
            #expect(bad["error"]?.stringValue == "ESession:Invalid session" && bad["success"] == .bool(false))
            #expect(bad["channel"]?.stringValue == "balances" && bad["status"]?.stringValue == "error")

            // Older than 900 s on the monotonic clock.
            let old = try await Self.token(sim)
            await sim.state.advanceMonotonicClock(by: 901)
            try await probe.send(WS.subscribe("balances", token: old, reqID: 12))
            #expect(await probe.waitFor(where: WS.reply("subscribe", reqID: 12))?["error"]?.stringValue == "ESession:Invalid session")

            // Revoked by /_sim/ws/expire-tokens.
            let revoked = try await Self.token(sim)
            _ = try await RawHTTP.control(sim, "/_sim/ws/expire-tokens", method: "POST", json: #"{"account":"acct1"}"#)
            try await probe.send(WS.subscribe("executions", token: revoked, reqID: 13))
            #expect(await probe.waitFor(where: WS.reply("subscribe", reqID: 13))?["error"]?.stringValue == "ESession:Invalid session")

            // A fresh token works; afterwards the other account's token is refused on this connection.
            try await probe.send(WS.subscribe("balances", token: try await Self.token(sim), reqID: 14))
            #expect(await probe.waitFor(where: WS.reply("subscribe", reqID: 14))?["success"] == .bool(true))
            try await probe.send(WS.subscribe("executions", token: try await Self.token(sim, account: 1), reqID: 15))
            #expect(await probe.waitFor(where: WS.reply("subscribe", reqID: 15))?["error"]?.stringValue == "ESession:Invalid session")
            // The authorised connection may subscribe again after the tokens expire.
            _ = try await sim.state.webSocketExpireTokens()
            try await probe.send(WS.subscribe("executions", token: revoked, reqID: 16))
            #expect(await probe.waitFor(where: WS.reply("subscribe", reqID: 16))?["success"] == .bool(true))

            // Missing permissions: the channel's query permission, and create-ws-token for the token itself.
            try await sim.state.setPermissions(account: "acct2", ["query-ledger", "create-ws-token"])
            let limited = try await Self.token(sim, account: 1)
            let other = try await WSProbe.connect(sim.webSocketURL)
            try await other.send(WS.subscribe("balances", token: limited, reqID: 21))
            #expect(await other.waitFor(where: WS.reply("subscribe", reqID: 21))?["error"]?.stringValue == "EAccount:Invalid permissions")
            try await other.send(WS.subscribe("executions", token: limited, reqID: 22))
            #expect(await other.waitFor(where: WS.reply("subscribe", reqID: 22))?["error"]?.stringValue == "EAccount:Invalid permissions")
            try await sim.state.setPermissions(account: "acct2", ["query-funds"])
            let denied = try await Self.signed(sim, account: 1, "GetWebSocketsToken")
            #expect(denied["error"] == .array([.string("EGeneral:Permission denied")]))
            await probe.close()
            await other.close()
        }
    }

    @Test func pingPongMalformedHeartbeatAndUnknownPath() async throws {
        try await TestSim.with { sim in
            let probe = try await WSProbe.connect(sim.webSocketURL)
            try await probe.send(#"{"method":"ping","req_id":7}"#)
            let pong = try #require(await probe.waitFor(where: WS.reply("pong", reqID: 7)))
            #expect(pong["time_in"]?.stringValue?.hasSuffix("Z") == true && pong["time_out"]?.stringValue != nil)
            try await probe.send("{not json")
            let malformed = try #require(await probe.waitFor { $0["method"]?.stringValue == "error" })
            #expect(malformed["error"]?.stringValue == "Malformed request" && malformed["success"] == .bool(false))
            try await probe.send(#"{"method":"fly","req_id":8}"#)
            #expect(await probe.waitForCount(2, where: { $0["error"]?.stringValue == "Malformed request" }).count == 2)
            // No heartbeat before a subscription; one arrives after it.
            #expect(await probe.all(where: WS.channel("heartbeat")).isEmpty)
            try await probe.send(WS.subscribe("balances", token: try await Self.token(sim), reqID: 1, extra: #","snapshot":false"#))
            #expect(await probe.waitFor(where: WS.reply("subscribe", reqID: 1))?["success"] == .bool(true))
            #expect(await probe.waitFor(where: WS.channel("heartbeat")) != nil)
            #expect(await probe.all(where: WS.channel("balances", type: "snapshot")).isEmpty)
            await probe.close()

            var other = sim.webSocketURL
            other.deleteLastPathComponent()
            await #expect(throws: (any Error).self) { try await WSProbe.connect(other.appendingPathComponent("v3")) }
        }
    }

    @Test func dropStallDuplicateAndStatusFaults() async throws {
        try await TestSim.with { sim in
            let token1 = try await Self.token(sim)
            let token2 = try await Self.token(sim, account: 1)

            // duplicate: the next update is sent twice with the same sequence.
            let watcher = try await Self.subscribed(sim, "balances", token: token1, extra: #","snapshot":false"#)
            _ = try await RawHTTP.control(sim, "/_sim/ws/duplicate", method: "POST", json: #"{"account":"acct1","count":1}"#)
            _ = try await sim.state.addActivity(account: "acct1", trades: 1)
            let updates = await watcher.waitForCount(3, where: WS.channel("balances", type: "update"))
            #expect(updates.compactMap(WS.sequence) == [1, 1, 2])
            #expect(updates[0] == updates[1])

            // status: pushed to open connections, and first on new ones while not online.
            _ = try await RawHTTP.control(sim, "/_sim/ws/status", method: "POST", json: #"{"system":"maintenance"}"#)
            #expect(await watcher.waitFor { WS.item($0)?["system"]?.stringValue == "maintenance" } != nil)
            let late = try await WSProbe.connect(sim.webSocketURL)
            let first = try #require(await late.waitFor(where: WS.channel("status")))
            #expect(WS.item(first)?["system"]?.stringValue == "maintenance")
            try await sim.state.webSocketSetSystemStatus("online")
            #expect(await late.waitFor { WS.item($0)?["system"]?.stringValue == "online" } != nil)
            await late.close()

            // stall: acct1's connection goes silent (no heartbeat, update or pong) while acct2's carries on.
            let control = try await Self.subscribed(sim, "balances", token: token2, extra: #","snapshot":false"#)
            #expect(await watcher.waitFor(where: WS.channel("heartbeat")) != nil)
            let stalled = try await RawHTTP.control(sim, "/_sim/ws/stall", method: "POST", json: #"{"account":"acct1"}"#)
            #expect(stalled["stalled"]?.numberText == "1")
            let mark = await watcher.messages.count
            let controlMark = await control.messages.count
            try await watcher.send(#"{"method":"ping","req_id":31}"#)
            _ = try await sim.state.addActivity(account: "acct1", trades: 1)
            _ = try await sim.state.addActivity(account: "acct2", trades: 1)
            try await control.send(#"{"method":"ping","req_id":32}"#)
            #expect(await control.waitFor(after: controlMark, where: WS.reply("pong", reqID: 32)) != nil)
            #expect(await control.waitForCount(2, where: WS.channel("balances", type: "update")).count == 2)
            // Two heartbeats on the healthy connection after the stall: at least a second passed on the server.
            _ = await control.waitFor(after: controlMark, where: WS.channel("heartbeat"))
            let beat = await control.messages.count
            #expect(await control.waitFor(after: beat, where: WS.channel("heartbeat")) != nil)
            let since = await watcher.messages.dropFirst(mark)
            #expect(since.filter(WS.channel("balances")).isEmpty && since.filter(WS.reply("pong", reqID: 31)).isEmpty)
            // A heartbeat already on the wire when the stall began may still land; no second one.
            #expect(since.filter(WS.channel("heartbeat")).count <= 1)

            // drop: acct1's socket closes without a close frame; acct2's stays.
            let dropped = try await RawHTTP.control(sim, "/_sim/ws/drop", method: "POST", json: #"{"account":"acct1"}"#)
            #expect(dropped["dropped"]?.numberText == "1")
            #expect(await watcher.waitClosed())
            #expect(await control.isOpen)
            #expect(
                await eventually(20) {
                    await sim.state.webSocketConnections().arrayValue?.map { $0["account"]?.stringValue ?? "" } == ["acct2"]
                })
            // Entries booked while nobody of acct1 is connected are simply not streamed; a new watcher sees later ones.
            _ = try await sim.state.addActivity(account: "acct1", trades: 1)
            let again = try await Self.subscribed(sim, "balances", token: try await Self.token(sim), extra: #","snapshot":false"#)
            _ = try await sim.state.marketOrderNow(account: "acct1", pair: nil, side: nil)
            let fresh = await again.waitForCount(2, where: WS.channel("balances", type: "update"))
            #expect(fresh.compactMap(WS.sequence).prefix(2) == [1, 2])
            await again.close()
            await control.close()
        }
    }
}
