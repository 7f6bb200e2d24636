/// The in-memory account history: plain structs in arrays sorted by time (then serial), no per-row
/// dictionaries or strings until a row is served.

/// Ledger entry `type` values the generator uses (../shared/kraken-api.md §3.1).
enum LedgerType: UInt8, Sendable, CaseIterable {
    case trade, deposit, withdrawal, transfer, staking, earn

    var name: String {
        switch self {
        case .trade: "trade"
        case .deposit: "deposit"
        case .withdrawal: "withdrawal"
        case .transfer: "transfer"
        case .staking: "staking"
        case .earn: "earn"
        }
    }

    static func named(_ s: String) -> LedgerType? { allCases.first { $0.name == s } }
}

/// Ledger `subtype` values.
enum LedgerSubtype: UInt8, Sendable {
    case none, spotToStaking, stakingFromSpot, reward

    var name: String {
        switch self {
        case .none: ""
        case .spotToStaking: "spottostaking"
        case .stakingFromSpot: "stakingfromspot"
        case .reward: "reward"
        }
    }
}

/// What a ledger entry's `refid` names.
enum RefKind: UInt8, Sendable {
    /// `refValue` is a trade serial.
    case trade
    /// `refValue` is an index into ``AccountHistory/fundings``.
    case funding
    /// `refValue` is a serial for a legacy-format refid (transfers, staking).
    case misc
}

struct LedgerRow: Sendable {
    var serial: Int64
    var time: Int64
    var type: LedgerType
    var subtype: LedgerSubtype
    var asset: UInt8
    var refKind: RefKind
    var refValue: Int64
    var amount: Int64
    var fee: Int64
    var balance: Int64
}

enum Side: UInt8, Sendable {
    case buy, sell
    var name: String { self == .buy ? "buy" : "sell" }
}

enum OrderType: UInt8, Sendable {
    case limit, market
    var name: String { self == .limit ? "limit" : "market" }
}

enum OrderStatus: UInt8, Sendable {
    case open, closed, canceled, expired
    var name: String {
        switch self {
        case .open: "open"
        case .closed: "closed"
        case .canceled: "canceled"
        case .expired: "expired"
        }
    }
}

struct TradeRow: Sendable {
    var serial: Int64
    var orderSerial: Int64
    var time: Int64
    var pair: UInt8
    var side: Side
    var orderType: OrderType
    var maker: Bool
    /// In 10^-pairDecimals of the quote.
    var price: Int64
    /// In 10^-lotDecimals of the base.
    var vol: Int64
    /// In 10^-decimals of the quote asset (equal to the quote ledger leg's amount).
    var cost: Int64
    var fee: Int64
    /// Serial of the base-leg ledger entry; the quote leg is `ledgerSerial + 1`.
    var ledgerSerial: Int64
    var tradeID: Int64
}

struct OrderRow: Sendable {
    var serial: Int64
    var pair: UInt8
    var side: Side
    var orderType: OrderType
    var status: OrderStatus
    var opentm: Int64
    /// 0 while open.
    var closetm: Int64
    var expiretm: Int64
    /// Limit price in 10^-pairDecimals (0 for market orders).
    var limitPrice: Int64
    var vol: Int64
    var volExec: Int64
    var cost: Int64
    var fee: Int64
    var firstTradeSerial: Int64
    var tradeCount: Int32
    var userref: Int32
}

/// A deposit or a withdrawal: its ledger entry plus the Deposit/WithdrawStatus record.
struct FundingRow: Sendable {
    var isWithdrawal: Bool
    var asset: UInt8
    var amount: Int64
    var fee: Int64
    /// Ticks (the status record shows integer seconds).
    var time: Int64
    var refid: String
    var txid: String
    var info: String
    var key: String
    var method: String
    var network: String
    var status: String
    var ledgerSerial: Int64
}

/// One simulated account's history.
struct AccountHistory: Sendable {
    var ledger: [LedgerRow] = []
    var trades: [TradeRow] = []
    /// Sorted by `opentm` (then serial).
    var orders: [OrderRow] = []
    /// Sorted by time.
    var fundings: [FundingRow] = []
    let ledgerIDs: IDCodec
    let tradeIDs: IDCodec
    let orderIDs: IDCodec
    let miscIDs: IDCodec
    let fundingIDs: IDCodec

    init(seed: UInt64, account: String) {
        ledgerIDs = IDCodec(seed: seed, account: account, kind: "L")
        tradeIDs = IDCodec(seed: seed, account: account, kind: "T")
        orderIDs = IDCodec(seed: seed, account: account, kind: "O")
        miscIDs = IDCodec(seed: seed, account: account, kind: "R")
        fundingIDs = IDCodec(seed: seed, account: account, kind: "F")
    }

    func ledgerID(_ row: LedgerRow) -> String { ledgerIDs.format(row.serial) }
    func tradeID(_ serial: Int64) -> String { tradeIDs.format(serial) }
    func orderID(_ serial: Int64) -> String { orderIDs.format(serial) }

    func refid(_ row: LedgerRow) -> String {
        switch row.refKind {
        case .trade: return tradeIDs.format(row.refValue)
        case .funding: return fundings[Int(row.refValue)].refid
        case .misc: return miscIDs.formatLegacy(row.refValue)
        }
    }

    /// Index of the row with `serial` in an array whose serials increase with the index.
    static func index<T>(of serial: Int64, in rows: [T], serialOf: (T) -> Int64) -> Int? {
        var lo = 0
        var hi = rows.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if serialOf(rows[mid]) < serial { lo = mid + 1 } else { hi = mid }
        }
        if lo < rows.count, serialOf(rows[lo]) == serial { return lo }
        return nil
    }

    func ledgerIndex(serial: Int64) -> Int? { Self.index(of: serial, in: ledger) { $0.serial } }
    func tradeIndex(serial: Int64) -> Int? { Self.index(of: serial, in: trades) { $0.serial } }
    func orderIndex(serial: Int64) -> Int? { Self.index(of: serial, in: orders) { $0.serial } }

    func ledgerIndex(id: String) -> Int? { ledgerIDs.decode(id).flatMap(ledgerIndex(serial:)) }
    func tradeIndex(id: String) -> Int? { tradeIDs.decode(id).flatMap(tradeIndex(serial:)) }
    func orderIndex(id: String) -> Int? { orderIDs.decode(id).flatMap(orderIndex(serial:)) }

    /// Final balance per asset (the last ledger entry's `balance`, 0 if none).
    func balances() -> [Int64] {
        var out = [Int64](repeating: 0, count: Catalogue.assets.count)
        var seen = [Bool](repeating: false, count: Catalogue.assets.count)
        var remaining = Catalogue.assets.count
        for row in ledger.reversed() where !seen[Int(row.asset)] {
            seen[Int(row.asset)] = true
            out[Int(row.asset)] = row.balance
            remaining -= 1
            if remaining == 0 { break }
        }
        return out
    }
}
