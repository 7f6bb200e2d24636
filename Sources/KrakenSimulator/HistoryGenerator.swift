import Foundation
import KrakenAPI

/// Parameters of one account's generated history.
struct HistoryParameters: Sendable {
    var seed: UInt64
    var accountIndex: Int
    var account: String
    /// Unix seconds; the history covers [start, end).
    var startSeconds: Int64
    var endSeconds: Int64
    var timeZone: TimeZone
    /// Business hours in local minutes after midnight, [start, end).
    var businessStartMinute: Int
    var businessEndMinute: Int
    /// `Calendar` weekdays (1 = Sunday) with business activity.
    var businessWeekdays: Set<Int>
    /// Approximate number of ledger entries to generate.
    var targetLedgerEntries: Int
    /// Plant no anomalies.
    var clean: Bool
}

/// Anomalies the generator plants into history (runtime ones live in ``SimulatorState``).
enum PlantKind: String, Sendable, CaseIterable {
    case ledgerGap = "ledger_balance_gap"
    case unknownAddressWithdrawal = "withdrawal_unknown_address"
    case amountOutlierWithdrawal = "withdrawal_amount_outlier"
    case newAssetWithdrawal = "withdrawal_new_asset"
    case withdrawalBurst = "withdrawal_burst"
    case offHoursTrade = "off_hours_trade"
    case offHoursOrder = "off_hours_order"
    case dstSpringTrade = "off_hours_trade_dst_spring"
    case dstAutumnTrade = "off_hours_trade_dst_autumn"
    case tradeSizeOutlier = "trade_size_outlier"
    case firstEverPair = "first_ever_pair"
    case repointedAddressWithdrawal = "withdrawal_address_repointed"

    var rule: AnalyserRule {
        switch self {
        case .ledgerGap: .ledgerGap
        case .unknownAddressWithdrawal, .amountOutlierWithdrawal, .newAssetWithdrawal, .withdrawalBurst:
            .unexpectedWithdrawal
        case .offHoursTrade, .offHoursOrder, .dstSpringTrade, .dstAutumnTrade: .offHoursTrading
        case .tradeSizeOutlier: .tradeSizeOutlier
        case .firstEverPair: .newPairOrAsset
        case .repointedAddressWithdrawal: .withdrawalAddressChanged
        }
    }
}

/// One local calendar day of the history.
struct SimDay: Sendable {
    /// Ticks of local midnight, business open and close.
    let midnight: Int64
    let open: Int64
    let close: Int64
    let business: Bool
    /// UTC offset (seconds) at business open, and the other offset of the zone if it observes DST.
    let offset: Int64
}

/// Generates and later extends one account's history. Holds the running balances and prices, so activity
/// added at run time chains onto the generated history.
struct HistoryBuilder: Sendable {
    let params: HistoryParameters
    var history: AccountHistory
    var rng: SeededRandom
    /// Current balance per asset (10^-decimals units): equals the last ledger `balance` of each asset.
    var balances: [Int64]
    var assetUSD: [Double]
    var nextLedger: Int64 = 1
    var nextTrade: Int64 = 1
    var nextOrder: Int64 = 1
    var nextMisc: Int64 = 1
    var nextFunding: Int64 = 1
    var nextTradeID: Int64
    var lastTime: Int64 = 0
    var lastOpentm: Int64 = 0
    var truth: [PlantedAnomaly] = []
    let typicalNotionalUSD: Double
    var addresses: [Int: [WithdrawalAddress]] = [:]
    var withdrawnAssets: [Int] = []
    var tradedPairs: [Int] = []
    var dropNextStakingReward = false
    var pendingGap: (serial: Int64, amount: Int64, time: Int64, previous: String?)? = nil
    var plantCounts: [String: Int] = [:]
    var days: [SimDay] = []

    static let makerBps: Int64 = 16
    static let takerBps: Int64 = 26

    init(params: HistoryParameters) {
        self.params = params
        history = AccountHistory(seed: params.seed, account: params.account)
        rng = SeededRandom(seed: params.seed, stream: "history/\(params.account)")
        balances = [Int64](repeating: 0, count: Catalogue.assets.count)
        assetUSD = Catalogue.assets.map(\.usdPrice)
        nextTradeID = 40_000_000 + Int64(params.accountIndex) * 1_000_000
        typicalNotionalUSD = 800 * (1 + 0.5 * Double(params.accountIndex)) * rng.uniform(0.8, 1.25)
        makeAddresses()
    }

    // MARK: - Whole-history generation

    /// Generates the history for `params` (deterministic in the seed and parameters).
    static func generate(_ params: HistoryParameters) -> HistoryBuilder {
        var b = HistoryBuilder(params: params)
        b.run()
        return b
    }

    private enum Event {
        case order(Int)
        case withdrawal
        case deposit
        case stakingTransfer
        case stakingReward
        case openOrder
        case plant(PlantKind)
    }

    private mutating func run() {
        days = HistoryBuilder.calendarDays(params)
        let businessDays = days.filter(\.business)
        guard !businessDays.isEmpty else { return }
        // ~1.9 ledger entries per order event (fills average 1.2, 2 legs each; some orders never fill, a few are unaffordable).
        let ordersPerDay = max(0.5, Double(params.targetLedgerEntries) / 1.9 / Double(businessDays.count))
        let plants = params.clean ? [:] : planPlants()
        var businessIndex = 0
        var lastWithdrawalDay = -10
        var lastDepositDay = 0
        var withdrawalRotation = 0
        var lastMonth: Int64 = -1
        let lastBusinessMidnight = businessDays.last?.midnight ?? 0
        var ordersPlaced = 0

        for (dayIndex, day) in days.enumerated() {
            evolvePrices()
            var events: [(Int64, Event)] = []
            let dayOfWeekIsMonday = HistoryBuilder.weekday(day.midnight + Int64(12 * 3600 * 10_000)) == 2
            if dayOfWeekIsMonday, balances[Catalogue.dotStaked] > 0 {
                // Staking rewards are paid at night, any day of the week: not trading activity.
                events.append((day.midnight + Int64(rng.int(3600...7200)) * 10_000, .stakingReward))
            }
            if day.business {
                let span = day.close - day.open - 1_200 * 10_000
                func timeInHours() -> Int64 { day.open + 600 * 10_000 + Int64(rng.unit() * Double(span)) }
                if businessIndex == 0 {
                    events.append((day.open + 300 * 10_000, .deposit))
                }
                let month = TimeFormat.civil(days: day.midnight / 864_000_000).1
                if month != lastMonth, businessIndex > 0 {
                    lastMonth = month
                    events.append((timeInHours(), .stakingTransfer))
                }
                if businessIndex == 0 { lastMonth = month }
                var n = Int(ordersPerDay * rng.uniform(0.7, 1.3))
                if rng.chance(ordersPerDay * rng.uniform(0.7, 1.3) - Double(n)) { n += 1 }
                if businessIndex < 3 { n = max(n, 3) }
                for _ in 0..<n {
                    events.append((timeInHours(), .order(ordersPlaced)))
                    ordersPlaced += 1
                }
                if businessIndex - lastWithdrawalDay >= 4, businessIndex >= 1, rng.chance(businessIndex < 15 ? 0.6 : 0.3) {
                    lastWithdrawalDay = businessIndex
                    events.append((timeInHours(), .withdrawal))
                }
                if businessIndex - lastDepositDay >= 8, rng.chance(0.25) {
                    lastDepositDay = businessIndex
                    events.append((timeInHours(), .deposit))
                }
                if day.midnight == lastBusinessMidnight {
                    events.append((timeInHours(), .openOrder))
                    events.append((timeInHours(), .openOrder))
                }
                businessIndex += 1
            }
            for kind in plants[dayIndex] ?? [] {
                events.append((plantTime(kind, day: day), .plant(kind)))
            }
            events.sort { $0.0 < $1.0 }
            for (time, event) in events {
                let t = max(time, lastTime + 1)
                let closeLimit = max(day.close - 60 * 10_000, t + 10_000)
                switch event {
                case .order(let k):
                    normalOrder(sequence: k, time: t, closeLimit: closeLimit)
                case .withdrawal:
                    normalWithdrawal(rotation: withdrawalRotation, time: t)
                    withdrawalRotation += 1
                case .deposit:
                    normalDeposit(first: businessIndex <= 1 && history.fundings.isEmpty, time: t)
                case .stakingTransfer:
                    stakingTransfer(time: t)
                case .stakingReward:
                    stakingReward(time: t)
                case .openOrder:
                    openOrder(time: t)
                case .plant(let kind):
                    plant(kind, time: t, day: day)
                }
            }
        }
    }

    /// Calendar weekday (1 = Sunday) of an instant in UTC (used only for the reward schedule).
    static func weekday(_ ticks: Int64) -> Int {
        let days = ticks / 864_000_000
        return Int(((days + 4) % 7 + 7) % 7) + 1
    }

    /// The local days of the history with their business windows, DST-correct via `Calendar`.
    static func calendarDays(_ params: HistoryParameters) -> [SimDay] {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = params.timeZone
        var out: [SimDay] = []
        var day = calendar.startOfDay(for: Date(timeIntervalSince1970: Double(params.startSeconds)))
        let end = Double(params.endSeconds)
        func at(_ minute: Int, of day: Date) -> Date {
            if minute >= 1440 { return calendar.date(byAdding: .day, value: 1, to: day) ?? day }
            return calendar.date(bySettingHour: minute / 60, minute: minute % 60, second: 0, of: day) ?? day
        }
        while day.timeIntervalSince1970 < end {
            guard let next = calendar.date(byAdding: .day, value: 1, to: day) else { break }
            let weekday = calendar.component(.weekday, from: day)
            let open = at(params.businessStartMinute, of: day)
            var close = at(params.businessEndMinute, of: day)
            if close.timeIntervalSince1970 > end { close = Date(timeIntervalSince1970: end) }
            let business = params.businessWeekdays.contains(weekday)
                && close.timeIntervalSince(open) > 3600 && day.timeIntervalSince1970 >= Double(params.startSeconds) - 86_400
            out.append(
                SimDay(
                    midnight: Int64(day.timeIntervalSince1970) * 10_000, open: Int64(open.timeIntervalSince1970) * 10_000,
                    close: Int64(close.timeIntervalSince1970) * 10_000, business: business,
                    offset: Int64(params.timeZone.secondsFromGMT(for: open))))
            day = next
        }
        return out
    }

    /// Local time `minute` after midnight of `day` (DST-correct).
    func localTime(_ day: SimDay, minute: Int) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = params.timeZone
        let date = Date(timeIntervalSince1970: Double(day.midnight / 10_000))
        let t = calendar.date(bySettingHour: minute / 60, minute: minute % 60, second: 0, of: date) ?? date
        return Int64(t.timeIntervalSince1970) * 10_000
    }

    // MARK: - Prices and sizes

    private mutating func evolvePrices() {
        for i in assetUSD.indices {
            let vol: Double
            switch i {
            case Catalogue.usd, Catalogue.usdt: continue
            case Catalogue.eur: vol = 0.003
            default: vol = 0.03
            }
            assetUSD[i] *= Foundation.exp(vol * rng.normal())
        }
        assetUSD[Catalogue.dotStaked] = assetUSD[Catalogue.dot]
    }

    /// Mid price of `pair` in quote per base.
    func mid(_ pair: Int) -> Double {
        let p = Catalogue.pairs[pair]
        return assetUSD[p.base] / assetUSD[p.quote]
    }

    /// A normal trade notional in USD: log-normal around the account's typical size, clipped to [0.25, 4]x.
    mutating func normalNotionalUSD() -> Double {
        typicalNotionalUSD * min(4, max(0.25, Foundation.exp(0.45 * rng.normal())))
    }

    // MARK: - Rows

    @discardableResult
    mutating func appendLedger(
        time: Int64, type: LedgerType, subtype: LedgerSubtype = .none, asset: Int, amount: Int64, fee: Int64,
        refKind: RefKind, refValue: Int64
    ) -> Int64 {
        balances[asset] += amount - fee
        let serial = nextLedger
        nextLedger += 1
        history.ledger.append(
            LedgerRow(
                serial: serial, time: time, type: type, subtype: subtype, asset: UInt8(asset), refKind: refKind,
                refValue: refValue, amount: amount, fee: fee, balance: balances[asset]))
        lastTime = max(lastTime, time)
        if let gap = pendingGap, asset == Catalogue.dotStaked {
            pendingGap = nil
            let row = history.ledger[history.ledger.count - 1]
            let decimals = Catalogue.assets[asset].decimals
            var details: [(String, JSONValue)] = [
                ("asset", .string(Catalogue.assets[asset].key)),
                ("deleted_ledger_id", .string(history.ledgerIDs.format(gap.serial))),
                ("deleted_amount", .string(Fixed.format(gap.amount, decimals: decimals))),
                ("deleted_time", .string(TimeFormat.iso(ticks: gap.time))),
                ("balance_after_gap", .string(Fixed.format(row.balance, decimals: decimals))),
                ("expected_balance_without_gap", .string(Fixed.format(row.balance - gap.amount, decimals: decimals))),
            ]
            if let previous = gap.previous { details.append(("previous_ledger_id", .string(previous))) }
            record(.ledgerGap, entityType: "ledger", entityID: history.ledgerID(row), time: time, details: details)
        }
        return serial
    }

    /// Executes an order with `fills` fills and appends order, trades and ledger rows. Returns the order serial,
    /// or nil when the account cannot afford it (nothing is appended then).
    @discardableResult
    mutating func filledOrder(
        pair: Int, side: Side, notionalUSD: Double, time: Int64, fills: Int, type: OrderType,
        partialCancelAt: Int64? = nil, userref: Int32 = 0
    ) -> Int64? {
        let info = Catalogue.pairs[pair]
        let m = mid(pair)
        let pd = info.pairDecimals, qd = Catalogue.assets[info.quote].decimals, bd = Catalogue.assets[info.base].decimals
        let limitPrice = Fixed.fromDouble(m * (side == .buy ? 0.9995 : 1.0005), decimals: pd)
        guard limitPrice > 0 else { return nil }
        let totalVol = Fixed.fromDouble(notionalUSD / assetUSD[info.base], decimals: info.lotDecimals)
        guard totalVol > 0 else { return nil }
        let execVol = partialCancelAt == nil ? totalVol : max(1, totalVol * Int64(rng.int(40...80)) / 100)
        var parts: [Int64] = []
        var left = execVol
        for i in 0..<fills {
            let share = i == fills - 1 ? left : max(1, left * Int64(rng.int(30...60)) / 100)
            let part = min(share, left)
            if part > 0 { parts.append(part) }
            left -= part
        }
        let divisor = Fixed.pow10[pd + info.lotDecimals - qd]
        let bps = type == .limit ? HistoryBuilder.makerBps : HistoryBuilder.takerBps
        var fillPrices: [Int64] = []
        var costs: [Int64] = []
        var fees: [Int64] = []
        for part in parts {
            let price = type == .limit ? limitPrice : max(1, Fixed.fromDouble(m * (1 + 0.0003 * rng.normal()), decimals: pd))
            let cost = Fixed.mulDiv(price, part, divisor)
            fillPrices.append(price)
            costs.append(cost)
            fees.append(Fixed.mulDiv(cost, bps, 10_000))
        }
        let totalCost = costs.reduce(0, +), totalFee = fees.reduce(0, +)
        let baseAmount = Fixed.rescale(execVol, from: info.lotDecimals, to: bd)
        if side == .buy, balances[info.quote] < totalCost + totalFee { return nil }
        if side == .sell, balances[info.base] < baseAmount { return nil }
        guard totalCost > 0 else { return nil }

        let delay: Int64 = type == .limit ? Int64(rng.int(10...240)) * 10_000 : Int64(rng.int(1...5)) * 1_000
        let opentm = min(time, max(lastOpentm + 1, time - delay))
        lastOpentm = opentm
        let orderSerial = nextOrder
        nextOrder += 1
        let firstTrade = nextTrade
        var t = time
        for (i, part) in parts.enumerated() {
            if i > 0 { t += Int64(rng.int(5_000...40_000)) }
            let tradeSerial = nextTrade
            nextTrade += 1
            nextTradeID += Int64(rng.int(1...40))
            let baseLeg = Fixed.rescale(part, from: info.lotDecimals, to: bd)
            let ledgerSerial = appendLedger(
                time: t, type: .trade, asset: info.base, amount: side == .buy ? baseLeg : -baseLeg, fee: 0,
                refKind: .trade, refValue: tradeSerial)
            appendLedger(
                time: t, type: .trade, asset: info.quote, amount: side == .buy ? -costs[i] : costs[i], fee: fees[i],
                refKind: .trade, refValue: tradeSerial)
            history.trades.append(
                TradeRow(
                    serial: tradeSerial, orderSerial: orderSerial, time: t, pair: UInt8(pair), side: side,
                    orderType: type, maker: type == .limit, price: fillPrices[i], vol: part, cost: costs[i], fee: fees[i],
                    ledgerSerial: ledgerSerial, tradeID: nextTradeID))
        }
        let status: OrderStatus = partialCancelAt == nil ? .closed : .canceled
        let closetm = partialCancelAt.map { max($0, t + 1) } ?? t + 1
        history.orders.append(
            OrderRow(
                serial: orderSerial, pair: UInt8(pair), side: side, orderType: type, status: status, opentm: opentm,
                closetm: closetm, expiretm: 0, limitPrice: type == .limit ? limitPrice : 0, vol: totalVol,
                volExec: execVol, cost: totalCost, fee: totalFee, firstTradeSerial: firstTrade,
                tradeCount: Int32(parts.count), userref: userref))
        if !tradedPairs.contains(pair) { tradedPairs.append(pair) }
        return orderSerial
    }

    /// An order that never fills: cancelled, expired, or still open (`closeAt` nil).
    @discardableResult
    mutating func unfilledOrder(pair: Int, side: Side, notionalUSD: Double, time: Int64, status: OrderStatus, closeAt: Int64?)
        -> Int64
    {
        let info = Catalogue.pairs[pair]
        let price = max(1, Fixed.fromDouble(mid(pair) * (side == .buy ? 0.97 : 1.03), decimals: info.pairDecimals))
        let vol = max(1, Fixed.fromDouble(notionalUSD / assetUSD[info.base], decimals: info.lotDecimals))
        let opentm = max(lastOpentm + 1, time)
        lastOpentm = opentm
        let serial = nextOrder
        nextOrder += 1
        let closetm = closeAt.map { max($0, opentm + 1) } ?? 0
        history.orders.append(
            OrderRow(
                serial: serial, pair: UInt8(pair), side: side, orderType: .limit, status: status, opentm: opentm,
                closetm: closetm, expiretm: status == .expired ? closetm : 0, limitPrice: price, vol: vol, volExec: 0,
                cost: 0, fee: 0, firstTradeSerial: nextTrade, tradeCount: 0, userref: 0))
        return serial
    }

    private mutating func normalOrder(sequence: Int, time: Int64, closeLimit: Int64) {
        let pair = sequence < Catalogue.normalPairs.count ? Catalogue.normalPairs[sequence] : rng.pick(Catalogue.normalPairs)
        let notional = normalNotionalUSD()
        let roll = rng.unit()
        var side: Side = rng.chance(0.5) ? .buy : .sell
        if sequence < Catalogue.normalPairs.count { side = .buy }
        if roll < 0.07 || (roll < 0.09) {
            let expired = roll >= 0.07
            let close = min(closeLimit, time + Int64(rng.int(expired ? 1800...7200 : 60...1800)) * 10_000)
            unfilledOrder(pair: pair, side: side, notionalUSD: notional, time: time, status: expired ? .expired : .canceled, closeAt: close)
            return
        }
        let partial = roll < 0.12
        let fills = partial ? 1 : (rng.chance(0.15) ? rng.int(2...3) : 1)
        let type: OrderType = rng.chance(0.7) ? .limit : .market
        let cancelAt = partial ? min(closeLimit, time + Int64(rng.int(120...1200)) * 10_000) : nil
        if filledOrder(pair: pair, side: side, notionalUSD: notional, time: time, fills: fills, type: type, partialCancelAt: cancelAt) == nil {
            filledOrder(pair: pair, side: side == .buy ? .sell : .buy, notionalUSD: notional, time: time, fills: fills, type: type, partialCancelAt: cancelAt)
        }
    }

    private mutating func openOrder(time: Int64) {
        unfilledOrder(pair: rng.pick(Catalogue.normalPairs), side: rng.chance(0.5) ? .buy : .sell, notionalUSD: normalNotionalUSD(), time: time, status: .open, closeAt: nil)
    }

    /// Appends `count` filled orders at `time` (and slightly after), e.g. live activity "now". Returns how many
    /// ledger entries were added.
    mutating func liveActivity(count: Int, time: Int64) -> Int {
        let before = history.ledger.count
        var t = max(time, lastTime + 1)
        for _ in 0..<count {
            let pair = rng.pick(Catalogue.normalPairs)
            let side: Side = rng.chance(0.5) ? .buy : .sell
            let notional = normalNotionalUSD()
            if filledOrder(pair: pair, side: side, notionalUSD: notional, time: t, fills: 1, type: .limit) == nil {
                filledOrder(pair: pair, side: side == .buy ? .sell : .buy, notionalUSD: notional, time: t, fills: 1, type: .limit)
            }
            t = lastTime + 1
        }
        return history.ledger.count - before
    }

    // MARK: - Funding

    private mutating func makeAddresses() {
        var r = SeededRandom(seed: params.seed, stream: "addresses/\(params.account)")
        func chars(_ alphabet: String, _ n: Int) -> String {
            let a = Array(alphabet)
            return String((0..<n).map { _ in a[r.int(0..<a.count)] })
        }
        let bech = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
        addresses[Catalogue.xbt] = [
            WithdrawalAddress(asset: "XXBT", address: "bc1q" + chars(bech, 38), key: "btc-cold-storage"),
            WithdrawalAddress(asset: "XXBT", address: "bc1q" + chars(bech, 38), key: "btc-hardware-wallet"),
        ]
        addresses[Catalogue.eth] = [
            WithdrawalAddress(asset: "XETH", address: "0x" + chars("0123456789abcdef", 40), key: "eth-ledger")
        ]
        addresses[Catalogue.eur] = [
            WithdrawalAddress(asset: "ZEUR", address: "DE" + chars("0123456789", 20), key: "eur-company-account")
        ]
    }

    private mutating func randomAddress(asset: Int) -> String {
        func chars(_ alphabet: String, _ n: Int) -> String {
            let a = Array(alphabet)
            return String((0..<n).map { _ in a[rng.int(0..<a.count)] })
        }
        switch asset {
        case Catalogue.xbt: return "bc1q" + chars("qpzry9x8gf2tvdw0s3jn54khce6mua7l", 38)
        case Catalogue.eth: return "0x" + chars("0123456789abcdef", 40)
        case Catalogue.eur: return "LT" + chars("0123456789", 18)
        case Catalogue.dot: return "1" + chars("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", 47)
        default: return chars("0123456789abcdef", 40)
        }
    }

    private static let withdrawalFees: [Int: Int64] = [
        Catalogue.xbt: 1_500_000, Catalogue.eth: 35_000_000, Catalogue.eur: 900, Catalogue.dot: 500_000_000,
        Catalogue.usd: 50_000, Catalogue.sol: 10_000_000, Catalogue.usdt: 250_000_000,
    ]

    private static func methodNames(_ asset: Int) -> (String, String) {
        switch asset {
        case Catalogue.xbt: ("Bitcoin", "Bitcoin")
        case Catalogue.eth: ("Ether", "Ethereum")
        case Catalogue.eur: ("SEPA", "SEPA")
        case Catalogue.usd: ("Bank Frick (SWIFT)", "SWIFT")
        case Catalogue.dot: ("Polkadot", "Polkadot")
        case Catalogue.sol: ("Solana", "Solana")
        default: ("Tether USD (ERC20)", "Ethereum")
        }
    }

    private mutating func txid(_ asset: Int) -> String {
        let hex = Array("0123456789abcdef")
        let n = asset == Catalogue.eur || asset == Catalogue.usd ? 16 : 64
        let body = String((0..<n).map { _ in hex[rng.int(0..<16)] })
        return asset == Catalogue.eth ? "0x" + body : body
    }

    private mutating func fundingRefid() -> String {
        let serial = nextFunding
        nextFunding += 1
        // Kraken switched from legacy 7-6-6 refids to mixed-case FT... refids; mirror that at mid-history.
        let cutover = (params.startSeconds + params.endSeconds) / 2 * 10_000
        return lastTime < cutover ? history.fundingIDs.formatLegacy(serial) : history.fundingIDs.formatFunding(serial)
    }

    /// Appends a withdrawal (ledger entry + WithdrawStatus record); nil if the balance does not cover it.
    @discardableResult
    mutating func withdraw(asset: Int, amount: Int64, address: String, key: String, time: Int64) -> Int? {
        let fee = HistoryBuilder.withdrawalFees[asset] ?? 0
        guard amount > 0, balances[asset] >= amount + fee else { return nil }
        lastTime = max(lastTime, time)
        let refid = fundingRefid()
        let index = history.fundings.count
        let (method, network) = HistoryBuilder.methodNames(asset)
        let serial = appendLedger(
            time: time, type: .withdrawal, asset: asset, amount: -amount, fee: fee, refKind: .funding, refValue: Int64(index))
        history.fundings.append(
            FundingRow(
                isWithdrawal: true, asset: UInt8(asset), amount: amount, fee: fee, time: time, refid: refid,
                txid: txid(asset), info: address, key: key, method: method, network: network, status: "Success",
                ledgerSerial: serial))
        return index
    }

    /// Appends a deposit (ledger entry + DepositStatus record).
    @discardableResult
    mutating func deposit(asset: Int, amount: Int64, time: Int64) -> Int {
        lastTime = max(lastTime, time)
        let refid = fundingRefid()
        let index = history.fundings.count
        let (method, network) = HistoryBuilder.methodNames(asset)
        let serial = appendLedger(
            time: time, type: .deposit, asset: asset, amount: amount, fee: 0, refKind: .funding, refValue: Int64(index))
        let info = asset == Catalogue.eur || asset == Catalogue.usd ? "DE" + String(txid(Catalogue.eur).prefix(12)) : randomAddress(asset: asset)
        history.fundings.append(
            FundingRow(
                isWithdrawal: false, asset: UInt8(asset), amount: amount, fee: 0, time: time, refid: refid,
                txid: txid(asset), info: info, key: "", method: method, network: network, status: "Success",
                ledgerSerial: serial))
        return index
    }

    private mutating func normalDeposit(first: Bool, time: Int64) {
        if first {
            deposit(asset: Catalogue.usd, amount: Fixed.fromDouble(typicalNotionalUSD * 300, decimals: 4), time: time)
            deposit(asset: Catalogue.eur, amount: Fixed.fromDouble(typicalNotionalUSD * 150 / assetUSD[Catalogue.eur], decimals: 4), time: time + 600 * 10_000)
            return
        }
        let asset = rng.chance(0.5) ? Catalogue.eur : Catalogue.usd
        let amount = typicalNotionalUSD * rng.uniform(5, 20) / assetUSD[asset]
        deposit(asset: asset, amount: Fixed.fromDouble(amount, decimals: 4), time: time)
    }

    /// A normal withdrawal amount of `asset` (in asset units): 1-3x the typical trade notional.
    private mutating func normalWithdrawalAmount(_ asset: Int) -> Int64 {
        Fixed.fromDouble(typicalNotionalUSD * rng.uniform(1, 3) / assetUSD[asset], decimals: min(8, Catalogue.assets[asset].decimals))
            * Fixed.pow10[max(0, Catalogue.assets[asset].decimals - 8)]
    }

    private mutating func normalWithdrawal(rotation: Int, time: Int64) {
        let assets = [Catalogue.xbt, Catalogue.eth, Catalogue.eur]
        for k in 0..<assets.count {
            let asset = assets[(rotation + k) % assets.count]
            let amount = normalWithdrawalAmount(asset)
            guard let book = addresses[asset], balances[asset] > amount * 3 else { continue }
            let to = rng.pick(book)
            if withdraw(asset: asset, amount: amount, address: to.address, key: to.key, time: time) != nil {
                if !withdrawnAssets.contains(asset) { withdrawnAssets.append(asset) }
                return
            }
        }
    }

    private mutating func stakingTransfer(time: Int64) {
        let amount = balances[Catalogue.dot] / 2
        guard amount > 0 else { return }
        let ref = nextMisc
        nextMisc += 1
        appendLedger(time: time, type: .transfer, subtype: .spotToStaking, asset: Catalogue.dot, amount: -amount, fee: 0, refKind: .misc, refValue: ref)
        appendLedger(time: time, type: .transfer, subtype: .stakingFromSpot, asset: Catalogue.dotStaked, amount: amount, fee: 0, refKind: .misc, refValue: ref)
    }

    fileprivate mutating func stakingReward(time: Int64) {
        let amount = balances[Catalogue.dotStaked] * 23 / 10_000
        guard amount > 0 else { return }
        let ref = nextMisc
        nextMisc += 1
        if dropNextStakingReward {
            // The ledger-gap anomaly: the reward changes the balance but its entry is deleted.
            dropNextStakingReward = false
            let previous = history.ledger.last { Int($0.asset) == Catalogue.dotStaked }.map(history.ledgerID)
            balances[Catalogue.dotStaked] += amount
            pendingGap = (nextLedger, amount, time, previous)
            nextLedger += 1
            lastTime = max(lastTime, time)
            return
        }
        appendLedger(time: time, type: .staking, asset: Catalogue.dotStaked, amount: amount, fee: 0, refKind: .misc, refValue: ref)
    }

    // MARK: - Planted anomalies

    mutating func record(
        _ kind: PlantKind, entityType: String, entityID: String, time: Int64, details: [(String, JSONValue)]
    ) {
        recordRaw(kind: kind.rawValue, rule: kind.rule, entityType: entityType, entityID: entityID, time: time, details: details)
    }

    mutating func recordRaw(
        kind: String, rule: AnalyserRule, entityType: String, entityID: String, time: Int64, details: [(String, JSONValue)]
    ) {
        let n = (plantCounts[kind] ?? 0) + 1
        plantCounts[kind] = n
        truth.append(
            PlantedAnomaly(
                id: "\(params.account)-\(kind)-\(n)", kind: kind, rule: rule, account: params.account,
                entityType: entityType, entityID: entityID, timeTicks: time, details: .object(details)))
    }

    /// Which plants happen on which day index (late in the history, after a baseline).
    private mutating func planPlants() -> [Int: [PlantKind]] {
        var out: [Int: [PlantKind]] = [:]
        func firstBusinessDay(atFraction f: Double) -> Int? {
            let start = min(days.count - 1, max(0, Int(Double(days.count) * f)))
            return (start..<days.count).first { days[$0].business } ?? (0..<start).last { days[$0].business }
        }
        let schedule: [(PlantKind, Double)] = [
            (.ledgerGap, 0.62), (.unknownAddressWithdrawal, 0.70), (.offHoursTrade, 0.72),
            (.amountOutlierWithdrawal, 0.75), (.offHoursOrder, 0.78), (.newAssetWithdrawal, 0.80),
            (.tradeSizeOutlier, 0.82), (.withdrawalBurst, 0.85), (.firstEverPair, 0.88),
            (.repointedAddressWithdrawal, 0.91),
        ]
        for (kind, f) in schedule {
            if let d = firstBusinessDay(atFraction: f) { out[d, default: []].append(kind) }
        }
        // DST: the first business day after each transition inside the history (after the first week).
        var seenSpring = false, seenAutumn = false
        for i in days.indices.dropFirst(7) where days[i].business {
            guard let prev = days[..<i].last(where: \.business) else { continue }
            if days[i].offset > prev.offset, !seenSpring {
                seenSpring = true
                out[i, default: []].append(.dstSpringTrade)
            } else if days[i].offset < prev.offset, !seenAutumn {
                seenAutumn = true
                out[i, default: []].append(.dstAutumnTrade)
            }
        }
        return out
    }

    private func plantTime(_ kind: PlantKind, day: SimDay) -> Int64 {
        let openMinute = params.businessStartMinute, closeMinute = params.businessEndMinute
        switch kind {
        case .ledgerGap: return day.midnight
        case .offHoursTrade: return localTime(day, minute: max(30, openMinute - 287))  // 03:13 for 08:00
        case .offHoursOrder: return localTime(day, minute: min(1439, closeMinute + 170))  // 22:50 for 20:00
        case .dstSpringTrade: return localTime(day, minute: min(1439, closeMinute + 30))  // 20:30
        case .dstAutumnTrade: return localTime(day, minute: max(0, openMinute - 30))  // 07:30
        case .withdrawalBurst: return day.open + 4 * 36_000_000
        case .tradeSizeOutlier: return day.open + 3 * 36_000_000 + 7 * 600_000
        case .firstEverPair: return day.open + 6 * 36_000_000 + 20 * 600_000
        default: return day.open + 2 * 36_000_000 + 13 * 600_000
        }
    }

    private func tradeDetails(_ orderSerial: Int64) -> (String, [(String, JSONValue)]) {
        guard let oi = history.orderIndex(serial: orderSerial), let ti = history.tradeIndex(serial: history.orders[oi].firstTradeSerial)
        else { return (history.orderID(orderSerial), []) }
        let trade = history.trades[ti]
        let info = Catalogue.pairs[Int(trade.pair)]
        let quoteDecimals = Catalogue.assets[info.quote].decimals
        let ledgers = [trade.ledgerSerial, trade.ledgerSerial + 1].map { history.ledgerIDs.format($0) }
        return (
            history.tradeID(trade.serial),
            [
                ("pair", .string(info.key)), ("type", .string(trade.side.name)),
                ("vol", .string(Fixed.format(trade.vol, decimals: info.lotDecimals))),
                ("cost", .string(Fixed.format(trade.cost, decimals: quoteDecimals))),
                ("ordertxid", .string(history.orderID(orderSerial))),
                ("ledger_ids", .array(ledgers.map(JSONValue.string))),
            ]
        )
    }

    private func localDetails(_ time: Int64, day: SimDay) -> [(String, JSONValue)] {
        [
            ("local_time", .string(TimeFormat.local(ticks: time, in: params.timeZone))),
            ("timezone", .string(params.timeZone.identifier)),
            ("business_hours", .string("\(TimeFormat.hhmm(params.businessStartMinute))-\(TimeFormat.hhmm(params.businessEndMinute))")),
        ]
    }

    /// Makes sure `asset` holds at least `amount` by depositing the difference an hour earlier.
    private mutating func ensureBalance(_ asset: Int, _ amount: Int64, time: Int64) {
        if balances[asset] < amount {
            deposit(asset: asset, amount: amount - balances[asset] + amount / 10, time: max(lastTime + 1, time - 36_000_000))
        }
    }

    mutating func plant(_ kind: PlantKind, time: Int64, day: SimDay) {
        switch kind {
        case .ledgerGap:
            dropNextStakingReward = true
        case .unknownAddressWithdrawal:
            let asset = balances[Catalogue.xbt] > normalWithdrawalAmount(Catalogue.xbt) * 3 ? Catalogue.xbt : Catalogue.eth
            let amount = normalWithdrawalAmount(asset)
            ensureBalance(asset, amount * 2, time: time)
            let address = randomAddress(asset: asset)
            if let i = withdraw(asset: asset, amount: amount, address: address, key: "new-payout-address", time: max(time, lastTime + 1)) {
                recordWithdrawal(kind, i, extra: [("reason", .string("destination address never used before and not in the account's normal address book"))])
            }
        case .amountOutlierWithdrawal:
            let asset = Catalogue.eur
            let amount = Fixed.fromDouble(typicalNotionalUSD * 40 / assetUSD[asset], decimals: 4)
            ensureBalance(asset, amount + amount / 5, time: time)
            guard let to = addresses[asset]?.first else { return }
            if let i = withdraw(asset: asset, amount: amount, address: to.address, key: to.key, time: max(time, lastTime + 1)) {
                recordWithdrawal(kind, i, extra: [("reason", .string("amount about 13x the largest normal withdrawal of this asset (normal: 1-3x the typical trade notional)"))])
            }
        case .newAssetWithdrawal:
            let asset = Catalogue.dot
            var amount = balances[asset] * 3 / 10
            if amount < Fixed.fromDouble(5, decimals: 10) {
                filledOrder(pair: 4, side: .buy, notionalUSD: typicalNotionalUSD, time: max(lastTime + 1, time - 6_000_000), fills: 1, type: .limit)
                amount = balances[asset] * 3 / 10
            }
            if let i = withdraw(asset: asset, amount: amount, address: randomAddress(asset: asset), key: "dot-wallet", time: max(time, lastTime + 1)) {
                recordWithdrawal(kind, i, extra: [("reason", .string("first withdrawal ever of this asset"))])
            }
        case .withdrawalBurst:
            let asset = [Catalogue.xbt, Catalogue.eth, Catalogue.eur].first { balances[$0] > normalWithdrawalAmount($0) * 8 } ?? Catalogue.eur
            guard let to = addresses[asset]?.first else { return }
            var refs: [JSONValue] = []
            var first: Int? = nil
            var t = max(time, lastTime + 1)
            for _ in 0..<5 {
                let amount = normalWithdrawalAmount(asset) / 2
                ensureBalance(asset, amount * 2, time: t)
                t = max(t, lastTime + 1)
                if let i = withdraw(asset: asset, amount: amount, address: to.address, key: to.key, time: t) {
                    first = first ?? i
                    refs.append(.string(history.fundings[i].refid))
                }
                t += Int64(rng.int(180...360)) * 10_000
            }
            if let first {
                recordWithdrawal(kind, first, extra: [
                    ("reason", .string("\(refs.count) withdrawals within 30 minutes (normal: at most one every few days)")),
                    ("refids", .array(refs)),
                ])
            }
        case .offHoursTrade, .dstSpringTrade, .dstAutumnTrade:
            let pair = Catalogue.normalPairs[1]
            if let order = filledOrder(pair: pair, side: .buy, notionalUSD: normalNotionalUSD(), time: max(time, lastTime + 1), fills: 1, type: .market)
                ?? filledOrder(pair: pair, side: .sell, notionalUSD: normalNotionalUSD(), time: max(time, lastTime + 1), fills: 1, type: .market)
            {
                let (tradeID, trade) = tradeDetails(order)
                var details = trade + localDetails(lastTime, day: day)
                if kind != .offHoursTrade {
                    // Off-hours only with the correct DST offset: the other offset of the zone puts it inside hours.
                    let date = Date(timeIntervalSince1970: Double(lastTime) / 10_000)
                    let right = Int64(params.timeZone.secondsFromGMT(for: date))
                    let wrong = kind == .dstSpringTrade ? right - 3600 : right + 3600
                    details.append(("naive_local_time_without_dst_change", .string(TimeFormat.wall(ticks: lastTime, offset: wrong) + " (" + TimeFormat.offsetText(wrong) + ")")))
                    details.append(("reason", .string("off-hours only when the DST change is applied; with the pre-change offset it looks like business hours")))
                } else {
                    details.append(("reason", .string("trade in the middle of the night")))
                }
                record(kind, entityType: "trade", entityID: tradeID, time: lastTime, details: details)
            }
        case .offHoursOrder:
            let t = max(time, lastTime + 1)
            let serial = unfilledOrder(pair: Catalogue.normalPairs[0], side: .sell, notionalUSD: normalNotionalUSD(), time: t, status: .canceled, closeAt: t + 420 * 10_000)
            var details = localDetails(t, day: day)
            details.append(("status", .string("canceled")))
            details.append(("pair", .string(Catalogue.pairs[Catalogue.normalPairs[0]].key)))
            details.append(("reason", .string("order placed (and cancelled) late in the evening, no trades")))
            record(kind, entityType: "order", entityID: history.orderID(serial), time: history.orders[history.orders.count - 1].opentm, details: details)
        case .tradeSizeOutlier:
            let pair = Catalogue.normalPairs[0]
            let notional = typicalNotionalUSD * 40
            ensureBalance(Catalogue.usd, Fixed.fromDouble(notional * 1.1, decimals: 4), time: time)
            if let order = filledOrder(pair: pair, side: .buy, notionalUSD: notional, time: max(time, lastTime + 1), fills: 1, type: .limit) {
                let (tradeID, trade) = tradeDetails(order)
                record(kind, entityType: "trade", entityID: tradeID, time: lastTime, details: trade + [
                    ("typical_notional_usd", .number(Fixed.format(Int64(typicalNotionalUSD * 100), decimals: 2))),
                    ("reason", .string("about 40x the account's typical trade size (normal trades are 0.25-4x)")),
                ])
            }
        case .repointedAddressWithdrawal:
            // The account taker points a familiar address-book name at their own address and withdraws "to it":
            // the name of the latest normal withdrawal, so the collected WithdrawStatus records hold both addresses.
            guard let last = history.fundings.last(where: { f in
                f.isWithdrawal && addresses[Int(f.asset)]?.contains { $0.key == f.key && $0.address == f.info } == true
            }) else { return }
            let asset = Int(last.asset)
            let amount = normalWithdrawalAmount(asset)
            ensureBalance(asset, amount * 2, time: time)
            if let i = withdraw(asset: asset, amount: amount, address: randomAddress(asset: asset), key: last.key, time: max(time, lastTime + 1)) {
                recordWithdrawal(kind, i, extra: [
                    ("previous_address", .string(last.info)), ("previous_refid", .string(last.refid)),
                    ("reason", .string("address-book name '\(last.key)' re-pointed from \(last.info) to a new address (the name looks familiar, the destination is not)")),
                ])
            }
        case .firstEverPair:
            let pair = Catalogue.firstEverPair
            let notional = normalNotionalUSD()
            ensureBalance(Catalogue.eur, Fixed.fromDouble(notional * 1.2, decimals: 4), time: time)
            if let order = filledOrder(pair: pair, side: .buy, notionalUSD: notional, time: max(time, lastTime + 1), fills: 1, type: .limit) {
                let (tradeID, trade) = tradeDetails(order)
                record(kind, entityType: "trade", entityID: tradeID, time: lastTime, details: trade + [
                    ("new_asset", .string(Catalogue.assets[Catalogue.pairs[pair].base].key)),
                    ("reason", .string("first trade ever on this pair (and first time the account holds its base asset)")),
                ])
            }
        }
    }

    private mutating func recordWithdrawal(_ kind: PlantKind, _ index: Int, extra: [(String, JSONValue)]) {
        let w = history.fundings[index]
        let decimals = Catalogue.assets[Int(w.asset)].decimals
        var details: [(String, JSONValue)] = [
            ("asset", .string(Catalogue.assets[Int(w.asset)].key)),
            ("amount", .string(Fixed.format(w.amount, decimals: decimals))),
            ("address", .string(w.info)), ("key", .string(w.key)),
            ("ledger_id", .string(history.ledgerIDs.format(w.ledgerSerial))),
        ]
        details.append(contentsOf: extra)
        record(kind, entityType: "withdrawal", entityID: w.refid, time: w.time, details: details)
    }

    /// Ground truth about what is normal for this account.
    var profileTruth: AccountProfileTruth {
        AccountProfileTruth(
            account: params.account,
            normalWithdrawalAddresses: [Catalogue.xbt, Catalogue.eth, Catalogue.eur].flatMap { addresses[$0] ?? [] },
            tradedPairs: Catalogue.normalPairs.map { Catalogue.pairs[$0].key },
            withdrawnAssets: [Catalogue.xbt, Catalogue.eth, Catalogue.eur].map { Catalogue.assets[$0].key },
            typicalNotionalUSD: typicalNotionalUSD)
    }
}

extension HistoryBuilder {
    /// Books a staking reward now (used when planting a ledger gap at run time).
    mutating func plantStakingReward(time: Int64) { stakingReward(time: time) }
}
