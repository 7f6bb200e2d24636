/// One simulated account inside ``SimulatorState``: history builder, key and caches. Only touched from the
/// state actor.
final class SimAccount {
    let name: String
    var builder: HistoryBuilder
    var key: KeyState
    var assetsSeen: Set<UInt8>
    /// The address book as changed through `/_sim/address-book` (ControlAddressBook.swift); nil: the generated one.
    var addressBook: [WithdrawalAddress]? = nil
    private var closeIndexCache: [Int32]? = nil
    /// Serials of the newest ledger entry, trade and order already handed to the WebSocket endpoint (-1: none).
    var streamedLedgerSerial: Int64
    var streamedTradeSerial: Int64
    var streamedOrderSerial: Int64
    /// Where growth of the history is streamed (WebSocket v2); nil for a state without a server.
    var wsHub: WSHub? = nil

    init(name: String, builder: HistoryBuilder, key: KeyState) {
        self.name = name
        self.builder = builder
        self.key = key
        assetsSeen = Set(builder.history.ledger.map(\.asset))
        streamedLedgerSerial = builder.history.ledger.last?.serial ?? -1
        streamedTradeSerial = builder.history.trades.map(\.serial).max() ?? -1
        streamedOrderSerial = builder.history.orders.map(\.serial).max() ?? -1
    }

    /// Indices of non-open orders sorted by (closetm, serial), cached until the history changes.
    func closeIndex() -> [Int32] {
        if let c = closeIndexCache { return c }
        let orders = builder.history.orders
        var idx = orders.indices.filter { orders[$0].status != .open }.map { Int32($0) }
        idx.sort { a, b in
            let x = orders[Int(a)]
            let y = orders[Int(b)]
            return x.closetm != y.closetm ? x.closetm < y.closetm : x.serial < y.serial
        }
        closeIndexCache = idx
        return idx
    }

    /// Call after appending rows: also streams them to the account's WebSocket subscribers.
    func historyChanged(fromLedgerIndex start: Int) {
        closeIndexCache = nil
        for row in builder.history.ledger[start...] { assetsSeen.insert(row.asset) }
        wsHub?.accountGrew(self)
    }
}
