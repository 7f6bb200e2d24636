import AuditKernel
import KrakenAPI

/// `/0/public/*` (../shared/kraken-api.md §3.12).
enum PublicEndpoints {
    static func time(nowTicks: Int64) -> JSONValue {
        let seconds = nowTicks / 10_000
        return .object([("unixtime", .number(String(seconds))), ("rfc1123", .string(TimeFormat.rfc1123(seconds: seconds)))])
    }

    static func systemStatus(nowTicks: Int64) -> JSONValue {
        .object([("status", .string("online")), ("timestamp", .string(TimeFormat.iso(ticks: nowTicks / 10_000 * 10_000)))])
    }

    static func assets(_ params: Params) throws(EndpointError) -> JSONValue {
        var indices = Array(Catalogue.assets.indices)
        if let names = params.list("asset") {
            indices = []
            for n in names {
                guard let i = Catalogue.assetIndex(n) else { throw EndpointError("EQuery:Unknown asset") }
                indices.append(i)
            }
        }
        return .object(
            indices.map { i in
                let a = Catalogue.assets[i]
                var m: [(String, JSONValue)] = [
                    ("aclass", .string("currency")), ("altname", .string(a.altname)), ("decimals", .number(String(a.decimals))),
                    ("display_decimals", .number(String(a.displayDecimals))),
                ]
                if let c = a.collateralValue { m.append(("collateral_value", .number(c))) }
                m.append(("status", .string("enabled")))
                return (a.key, .object(m))
            })
    }

    static func assetPairs(_ params: Params) throws(EndpointError) -> JSONValue {
        var indices = Array(Catalogue.pairs.indices)
        if let names = params.list("pair") {
            indices = []
            for n in names {
                guard let i = Catalogue.pairIndex(n) else { throw EndpointError("EQuery:Unknown asset pair") }
                indices.append(i)
            }
        }
        let fees: JSONValue = .array(
            [[0, "0.40"], [10000, "0.35"], [50000, "0.24"]].map { tier in
                .array([.number(String(describing: tier[0])), .number(String(describing: tier[1]))])
            })
        let makerFees: JSONValue = .array(
            [[0, "0.25"], [10000, "0.20"], [50000, "0.14"]].map { tier in
                .array([.number(String(describing: tier[0])), .number(String(describing: tier[1]))])
            })
        return .object(
            indices.map { i in
                let p = Catalogue.pairs[i]
                return (
                    p.key,
                    .object([
                        ("altname", .string(p.altname)), ("wsname", .string(p.wsname)), ("aclass_base", .string("currency")),
                        ("base", .string(Catalogue.assets[p.base].key)), ("aclass_quote", .string("currency")),
                        ("quote", .string(Catalogue.assets[p.quote].key)), ("lot", .string("unit")),
                        ("cost_decimals", .number(String(p.costDecimals))), ("pair_decimals", .number(String(p.pairDecimals))),
                        ("lot_decimals", .number(String(p.lotDecimals))), ("lot_multiplier", .number("1")),
                        ("leverage_buy", .array([])), ("leverage_sell", .array([])), ("fees", fees), ("fees_maker", makerFees),
                        ("fee_volume_currency", .string("ZUSD")), ("margin_call", .number("80")), ("margin_stop", .number("40")),
                        ("ordermin", .string(p.ordermin)), ("costmin", .string(p.costmin)), ("tick_size", .string(p.tickSize)),
                        ("status", .string("online")),
                    ])
                )
            })
    }
}
