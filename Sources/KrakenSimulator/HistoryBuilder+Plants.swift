import AuditKernel
import Foundation
import KrakenAPI

/// Planted anomalies of the generated history (``PlantKind``) and their ground truth (``PlantedAnomaly``).
extension HistoryBuilder {
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
    mutating func planPlants() -> [Int: [PlantKind]] {
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
        var seenSpring = false
        var seenAutumn = false
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

    func plantTime(_ kind: PlantKind, day: SimDay) -> Int64 {
        let openMinute = params.businessStartMinute
        let closeMinute = params.businessEndMinute
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
                recordWithdrawal(
                    kind, i,
                    extra: [("reason", .string("destination address never used before and not in the account's normal address book"))])
            }
        case .amountOutlierWithdrawal:
            let asset = Catalogue.eur
            let amount = Fixed.fromDouble(typicalNotionalUSD * 40 / assetUSD[asset], decimals: 4)
            ensureBalance(asset, amount + amount / 5, time: time)
            guard let to = addresses[asset]?.first else { return }
            if let i = withdraw(asset: asset, amount: amount, address: to.address, key: to.key, time: max(time, lastTime + 1)) {
                recordWithdrawal(
                    kind, i,
                    extra: [
                        (
                            "reason",
                            .string(
                                "amount about 13x the largest normal withdrawal of this asset (normal: 1-3x the typical trade notional)")
                        )
                    ])
            }
        case .newAssetWithdrawal:
            let asset = Catalogue.dot
            var amount = balances[asset] * 3 / 10
            if amount < Fixed.fromDouble(5, decimals: 10) {
                filledOrder(
                    pair: 4, side: .buy, notionalUSD: typicalNotionalUSD, time: max(lastTime + 1, time - 6_000_000), fills: 1, type: .limit)
                amount = balances[asset] * 3 / 10
            }
            if let i = withdraw(
                asset: asset, amount: amount, address: randomAddress(asset: asset), key: "dot-wallet", time: max(time, lastTime + 1))
            {
                recordWithdrawal(kind, i, extra: [("reason", .string("first withdrawal ever of this asset"))])
            }
        case .withdrawalBurst:
            let asset =
                [Catalogue.xbt, Catalogue.eth, Catalogue.eur].first { balances[$0] > normalWithdrawalAmount($0) * 8 } ?? Catalogue.eur
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
                recordWithdrawal(
                    kind, first,
                    extra: [
                        ("reason", .string("\(refs.count) withdrawals within 30 minutes (normal: at most one every few days)")),
                        ("refids", .array(refs)),
                    ])
            }
        case .offHoursTrade, .dstSpringTrade, .dstAutumnTrade:
            let pair = Catalogue.normalPairs[1]
            if let order = filledOrder(
                pair: pair, side: .buy, notionalUSD: normalNotionalUSD(), time: max(time, lastTime + 1), fills: 1, type: .market)
                ?? filledOrder(
                    pair: pair, side: .sell, notionalUSD: normalNotionalUSD(), time: max(time, lastTime + 1), fills: 1, type: .market)
            {
                let (tradeID, trade) = tradeDetails(order)
                var details = trade + localDetails(lastTime, day: day)
                if kind != .offHoursTrade {
                    // Off-hours only with the correct DST offset: the other offset of the zone puts it inside hours.
                    let date = Date(timeIntervalSince1970: Double(lastTime) / 10_000)
                    let right = Int64(params.timeZone.secondsFromGMT(for: date))
                    let wrong = kind == .dstSpringTrade ? right - 3600 : right + 3600
                    details.append(
                        (
                            "naive_local_time_without_dst_change",
                            .string(TimeFormat.wall(ticks: lastTime, offset: wrong) + " (" + TimeFormat.offsetText(wrong) + ")")
                        ))
                    details.append(
                        (
                            "reason",
                            .string(
                                "off-hours only when the DST change is applied; with the pre-change offset it looks like business hours")
                        ))
                } else {
                    details.append(("reason", .string("trade in the middle of the night")))
                }
                record(kind, entityType: "trade", entityID: tradeID, time: lastTime, details: details)
            }
        case .offHoursOrder:
            let t = max(time, lastTime + 1)
            let serial = unfilledOrder(
                pair: Catalogue.normalPairs[0], side: .sell, notionalUSD: normalNotionalUSD(), time: t, status: .canceled,
                closeAt: t + 420 * 10_000)
            var details = localDetails(t, day: day)
            details.append(("status", .string("canceled")))
            details.append(("pair", .string(Catalogue.pairs[Catalogue.normalPairs[0]].key)))
            details.append(("reason", .string("order placed (and cancelled) late in the evening, no trades")))
            record(
                kind, entityType: "order", entityID: history.orderID(serial), time: history.orders[history.orders.count - 1].opentm,
                details: details)
        case .tradeSizeOutlier:
            let pair = Catalogue.normalPairs[0]
            let notional = typicalNotionalUSD * 40
            ensureBalance(Catalogue.usd, Fixed.fromDouble(notional * 1.1, decimals: 4), time: time)
            if let order = filledOrder(pair: pair, side: .buy, notionalUSD: notional, time: max(time, lastTime + 1), fills: 1, type: .limit)
            {
                let (tradeID, trade) = tradeDetails(order)
                record(
                    kind, entityType: "trade", entityID: tradeID, time: lastTime,
                    details: trade + [
                        ("typical_notional_usd", .number(Fixed.format(Int64(typicalNotionalUSD * 100), decimals: 2))),
                        ("reason", .string("about 40x the account's typical trade size (normal trades are 0.25-4x)")),
                    ])
            }
        case .repointedAddressWithdrawal:
            // The account taker points a familiar address-book name at their own address and withdraws "to it":
            // the name of the latest normal withdrawal, so the collected WithdrawStatus records hold both addresses.
            guard
                let last = history.fundings.last(where: { f in
                    f.isWithdrawal && addresses[Int(f.asset)]?.contains { $0.key == f.key && $0.address == f.info } == true
                })
            else { return }
            let asset = Int(last.asset)
            let amount = normalWithdrawalAmount(asset)
            ensureBalance(asset, amount * 2, time: time)
            if let i = withdraw(
                asset: asset, amount: amount, address: randomAddress(asset: asset), key: last.key, time: max(time, lastTime + 1))
            {
                recordWithdrawal(
                    kind, i,
                    extra: [
                        ("previous_address", .string(last.info)), ("previous_refid", .string(last.refid)),
                        (
                            "reason",
                            .string(
                                "address-book name '\(last.key)' re-pointed from \(last.info) to a new address (the name looks familiar, the destination is not)"
                            )
                        ),
                    ])
            }
        case .firstEverPair:
            let pair = Catalogue.firstEverPair
            let notional = normalNotionalUSD()
            ensureBalance(Catalogue.eur, Fixed.fromDouble(notional * 1.2, decimals: 4), time: time)
            if let order = filledOrder(pair: pair, side: .buy, notionalUSD: notional, time: max(time, lastTime + 1), fills: 1, type: .limit)
            {
                let (tradeID, trade) = tradeDetails(order)
                record(
                    kind, entityType: "trade", entityID: tradeID, time: lastTime,
                    details: trade + [
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
}
