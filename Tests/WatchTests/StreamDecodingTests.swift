import AuditKernel
import AuditStore
import Collector
import Testing

@testable import Watch

/// Decoding Kraken's WebSocket v2 messages (../shared/kraken-websocket.md) into routes and the collector's rows:
/// names mapped to REST keys, decimals kept as the number text Kraken sent.
@Suite struct StreamDecodingTests {
    static let names = KrakenNames(
        assetsResult: try! JSONValue.parse(
            #"{"XXBT":{"altname":"XBT"},"ZUSD":{"altname":"USD"},"DOT":{"altname":"DOT"},"DOT.S":{"altname":"DOT.S"},"XETH":{"altname":"ETH"}}"#
        ),
        pairsResult: try! JSONValue.parse(
            #"{"XXBTZUSD":{"altname":"XBTUSD","wsname":"XBT/USD","base":"XXBT","quote":"ZUSD"}}"#))

    @Test(arguments: [
        (#"{"channel":"heartbeat"}"#, StreamMessage.heartbeat),
        (
            #"{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":18266300427528990701,"system":"maintenance","version":"2.0.0"}]}"#,
            .status(system: "maintenance")
        ),
        (
            #"{"method":"pong","req_id":101,"time_in":"2026-01-01T00:00:00.000000Z","time_out":"2026-01-01T00:00:00.000001Z"}"#,
            .pong(reqId: 101)
        ),
        (
            #"{"method":"subscribe","result":{"channel":"balances","snapshot":true},"success":true,"req_id":1}"#,
            .subscribed(channel: "balances", reqId: 1)
        ),
        (
            #"{"channel":"executions","error":"ESession:Invalid session","method":"subscribe","status":"error","success":false,"req_id":2}"#,
            .refused(channel: "executions", error: "ESession:Invalid session", reqId: 2)
        ),
        (#"{"error":"Malformed request","method":"error","success":false}"#, .error("Malformed request")),
        (#"{"channel":"ticker","type":"update","data":[]}"#, .other),
    ])
    func routesEachMessageKind(text: String, expected: StreamMessage) throws {
        #expect(try StreamMessage.parse(text) == expected)
    }

    @Test func refusesWhatIsNotAJSONObject() {
        for text in ["", "[1,2]", "{\"channel\":", #"{"channel":"balances","type":"update"}"#] {
            #expect(throws: WatchError.self, "\(text)") { try StreamMessage.parse(text) }
        }
    }

    @Test func aBalancesUpdateBecomesALedgerRowInRESTNamesWithTheExactDecimals() throws {
        let message = try StreamMessage.parse(
            #"{"channel":"balances","type":"update","sequence":2,"data":[{"ledger_id":"LMP34Z-UOZMC-XNSVXD","ref_id":"TISWUK-U5KR2-4BYNCI","timestamp":"2026-01-22T10:17:55.214460Z","type":"trade","asset":"BTC","asset_class":"currency","category":"trade","wallet_type":"spot","wallet_id":"main","amount":-0.0001000000,"fee":0.0000000000,"balance":12345678901234.1234567891}]}"#
        )
        guard case .balances("update", 2, let data) = message else {
            Issue.record("not a balances update: \(message)")
            return
        }
        let row = try StreamRows(names: Self.names).ledgerEntry(data[0])
        #expect(row.ledgerId == "LMP34Z-UOZMC-XNSVXD" && row.refid == "TISWUK-U5KR2-4BYNCI")
        #expect(row.asset == "XXBT" && row.type == "trade" && row.aclass == "currency" && row.subtype == "")
        // The number text, never a Double: 14 integer digits and 10 decimals survive.
        #expect(row.amount.text == "-0.0001000000" && row.fee.text == "0.0000000000")
        #expect(row.balance.text == "12345678901234.1234567891")
        #expect(row.time == "2026-01-22T10:17:55.214460Z")
    }

    @Test func earnWalletsMapToTheEarnAssetsAndUnknownNamesStayAsSent() throws {
        let rows = StreamRows(names: Self.names)
        func entry(_ asset: String, _ walletType: String, _ walletId: String) throws -> String {
            try rows.ledgerEntry(
                try JSONValue.parse(
                    #"{"ledger_id":"L1","timestamp":"2026-01-22T10:17:55Z","type":"staking","asset":"\#(asset)","wallet_type":"\#(walletType)","wallet_id":"\#(walletId)","amount":1,"fee":0,"balance":1}"#
                )
            ).asset
        }
        #expect(try entry("DOT", "earn", "locked") == "DOT.S")
        #expect(try entry("DOT", "spot", "main") == "DOT")
        #expect(try entry("ETH", "spot", "main") == "XETH")
        #expect(try entry("NEWCOIN", "spot", "main") == "NEWCOIN")
    }

    @Test func aLedgerEntryWithoutItsFieldsIsRefusedNamingTheField() throws {
        let rows = StreamRows(names: Self.names)
        let cases: [(String, String)] = [
            (#"{"timestamp":"2026-01-22T10:17:55Z","type":"trade","asset":"BTC","amount":1,"fee":0,"balance":1}"#, "ledger_id"),
            (#"{"ledger_id":"L1","timestamp":"yesterday","type":"trade","asset":"BTC","amount":1,"fee":0,"balance":1}"#, "timestamp"),
            (
                #"{"ledger_id":"L1","timestamp":"2026-01-22T10:17:55Z","type":"trade","asset":"BTC","amount":"1e","fee":0,"balance":1}"#,
                "amount"
            ),
            (#"{"ledger_id":"L1","timestamp":"2026-01-22T10:17:55Z","type":"trade","asset":"BTC","amount":1,"fee":0}"#, "balance"),
        ]
        for (text, field) in cases {
            do {
                _ = try rows.ledgerEntry(try JSONValue.parse(text))
                Issue.record("accepted an entry without a valid \(field)")
            } catch {
                #expect("\(error)".contains(field), "\(error)")
            }
        }
    }

    @Test func aTradeExecutionBecomesATradeRowAndOtherReportsAreSkipped() throws {
        let rows = StreamRows(names: Self.names)
        let fill = try rows.trade(
            try JSONValue.parse(
                #"{"order_id":"O7IBL5-O2V6X-EEXY4U","exec_id":"TJE7HC-DKBTI-5BFVKE","exec_type":"trade","trade_id":365573,"symbol":"BTC/USD","side":"buy","last_qty":0.01000000,"last_price":60000.0,"liquidity_ind":"t","cost":600.00000,"order_status":"filled","order_type":"market","timestamp":"2024-05-18T05:41:33.480251Z","fees":[{"asset":"USD","qty":0.96000},{"asset":"USD","qty":0.04}]}"#
            ))
        let t = try #require(fill)
        #expect(t.txid == "TJE7HC-DKBTI-5BFVKE" && t.ordertxid == "O7IBL5-O2V6X-EEXY4U" && t.pair == "XXBTZUSD")
        #expect(t.type == "buy" && t.ordertype == "market" && t.maker == false && t.tradeId == 365573)
        #expect(t.vol.text == "0.01000000" && t.price.text == "60000.0" && t.cost.text == "600.00000")
        #expect(t.fee.text == "1.00000")  // two fees summed exactly
        let status = try rows.trade(try JSONValue.parse(#"{"order_id":"O1","exec_type":"new","order_status":"new"}"#))
        #expect(status == nil)
    }

    @Test func executionReportsBecomeOrderStates() throws {
        let rows = StreamRows(names: Self.names)
        func event(_ text: String) throws -> StreamStore.OrderEvent? { try rows.orderEvent(try JSONValue.parse(text)) }
        let placed = try #require(
            try event(
                #"{"exec_type":"new","order_status":"new","order_id":"O1","symbol":"BTC/USD","side":"sell","order_type":"market","order_qty":0.01000000,"limit_price":0,"timestamp":"2026-11-30T22:50:00.000100Z","order_userref":0}"#
            ))
        #expect(placed.status == "open" && placed.pair == "XXBTZUSD" && placed.type == "sell" && placed.ordertype == "market")
        #expect(
            placed.vol?.text == "0.01000000" && placed.price == nil && placed.userref == 0 && placed.opentm == "2026-11-30T22:50:00.000100Z"
        )
        let cancelled = try #require(
            try event(
                #"{"exec_type":"canceled","order_status":"canceled","order_id":"O1","reason":"User requested","timestamp":"2026-11-30T22:57:00Z"}"#
            ))
        #expect(cancelled.status == "canceled" && cancelled.reason == "User requested" && cancelled.closetm == "2026-11-30T22:57:00Z")
        let filled = try event(
            #"{"exec_type":"trade","order_status":"filled","order_id":"O2","exec_id":"T1","timestamp":"2026-11-30T10:00:00Z"}"#)
        #expect(filled?.status == "closed")
        #expect(
            try event(#"{"exec_type":"trade","order_status":"partially_filled","order_id":"O2","timestamp":"2026-11-30T10:00:00Z"}"#) == nil
        )
        #expect(try event(#"{"exec_type":"amended","order_id":"O2"}"#) == nil)
    }

    @Test(arguments: [
        (["0.1", "0.25"], "0.35"), (["1", "-1"], "0"), (["-0.5", "0.25"], "-0.25"), (["999.999", "0.001"], "1000.000"),
        (["12345678901234567890.1", "0.9"], "12345678901234567891.0"),
        (["0.0000000001", "-0.0000000002"], "-0.0000000001"),
    ])
    func decimalSumsAreExact(texts: [String], sum: String) {
        #expect(DecimalSum.sum(texts) == sum)
    }

    @Test func decimalSumRefusesWhatIsNotADecimal() {
        #expect(DecimalSum.sum(["1", "abc"]) == nil)
        #expect(DecimalSum.sum(["1.2.3"]) == nil)
    }

    @Test func backoffStartsAtOnceGrowsWithJitterCapsAndRespectsMaintenance() {
        var b = Backoff()
        // Random 1: no jitter reduction, so the sequence is the schedule itself.
        #expect(b.next(healthy: false, maintenance: false, random: 0.999_999) < 0.001)
        let second = b.next(healthy: false, maintenance: false, random: 0.999_999)
        let third = b.next(healthy: false, maintenance: false, random: 0.999_999)
        #expect(second > 0.49 && second <= 0.5 && third > 0.99 && third <= 1)
        for _ in 0..<20 { _ = b.next(healthy: false, maintenance: false, random: 0.999_999) }
        #expect(b.next(healthy: false, maintenance: false, random: 0.999_999) <= 60)
        // Jitter halves at most.
        #expect(b.next(healthy: false, maintenance: false, random: 0) >= 30)
        // A healthy connection resets: the next reconnect is immediate, unless Kraken is in maintenance.
        #expect(b.next(healthy: true, maintenance: false, random: 0.5) == 0)
        #expect(b.next(healthy: true, maintenance: true, random: 0.5) == 5)
    }
}
