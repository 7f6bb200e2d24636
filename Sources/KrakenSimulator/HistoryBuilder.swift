import AuditKernel
import Foundation
import KrakenAPI

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
                let month = CivilDate.civil(days: day.midnight / 864_000_000).1
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
            let business =
                params.businessWeekdays.contains(weekday)
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
        let pd = info.pairDecimals
        let qd = Catalogue.assets[info.quote].decimals
        let bd = Catalogue.assets[info.base].decimals
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
        let totalCost = costs.reduce(0, +)
        let totalFee = fees.reduce(0, +)
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
        if filledOrder(pair: pair, side: side, notionalUSD: notional, time: time, fills: fills, type: type, partialCancelAt: cancelAt)
            == nil
        {
            filledOrder(
                pair: pair, side: side == .buy ? .sell : .buy, notionalUSD: notional, time: time, fills: fills, type: type,
                partialCancelAt: cancelAt)
        }
    }

    private mutating func openOrder(time: Int64) {
        unfilledOrder(
            pair: rng.pick(Catalogue.normalPairs), side: rng.chance(0.5) ? .buy : .sell, notionalUSD: normalNotionalUSD(), time: time,
            status: .open, closeAt: nil)
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
