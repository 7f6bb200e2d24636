import Foundation

/// One asset as `/0/public/Assets` describes it (../shared/kraken-api.md §3.12, §8).
struct AssetInfo: Sendable {
    let key: String
    let altname: String
    let decimals: Int
    let displayDecimals: Int
    let collateralValue: String?
    /// Rough value in USD, for sizing activity.
    let usdPrice: Double
}

/// One pair as `/0/public/AssetPairs` describes it.
struct PairInfo: Sendable {
    let key: String
    let altname: String
    let wsname: String
    let base: Int
    let quote: Int
    let pairDecimals: Int
    let lotDecimals: Int
    let costDecimals: Int
    let ordermin: String
    let costmin: String
    let tickSize: String
}

/// The fixed asset and pair catalogue (Kraken's keys, altnames and decimals).
enum Catalogue {
    static let assets: [AssetInfo] = [
        AssetInfo(key: "XXBT", altname: "XBT", decimals: 10, displayDecimals: 5, collateralValue: "1.0000", usdPrice: 60000),
        AssetInfo(key: "XETH", altname: "ETH", decimals: 10, displayDecimals: 5, collateralValue: "1.0000", usdPrice: 3000),
        AssetInfo(key: "ZUSD", altname: "USD", decimals: 4, displayDecimals: 2, collateralValue: "1.0000", usdPrice: 1),
        AssetInfo(key: "ZEUR", altname: "EUR", decimals: 4, displayDecimals: 2, collateralValue: "1.0000", usdPrice: 1.08),
        AssetInfo(key: "DOT", altname: "DOT", decimals: 10, displayDecimals: 8, collateralValue: "0.9000", usdPrice: 7),
        AssetInfo(key: "SOL", altname: "SOL", decimals: 10, displayDecimals: 5, collateralValue: "0.9000", usdPrice: 150),
        AssetInfo(key: "ADA", altname: "ADA", decimals: 8, displayDecimals: 6, collateralValue: "0.9000", usdPrice: 0.5),
        AssetInfo(key: "USDT", altname: "USDT", decimals: 8, displayDecimals: 4, collateralValue: "1.0000", usdPrice: 1),
        AssetInfo(key: "DOT.S", altname: "DOT.S", decimals: 10, displayDecimals: 8, collateralValue: nil, usdPrice: 7),
        AssetInfo(key: "KFEE", altname: "FEE", decimals: 2, displayDecimals: 2, collateralValue: nil, usdPrice: 0.01),
    ]

    static let xbt = 0, eth = 1, usd = 2, eur = 3, dot = 4, sol = 5, ada = 6, usdt = 7, dotStaked = 8

    static let pairs: [PairInfo] = [
        PairInfo(
            key: "XXBTZUSD", altname: "XBTUSD", wsname: "XBT/USD", base: xbt, quote: usd, pairDecimals: 1, lotDecimals: 8, costDecimals: 5,
            ordermin: "0.00005", costmin: "0.5", tickSize: "0.1"),
        PairInfo(
            key: "XETHZUSD", altname: "ETHUSD", wsname: "ETH/USD", base: eth, quote: usd, pairDecimals: 2, lotDecimals: 8, costDecimals: 5,
            ordermin: "0.002", costmin: "0.5", tickSize: "0.01"),
        PairInfo(
            key: "XXBTZEUR", altname: "XBTEUR", wsname: "XBT/EUR", base: xbt, quote: eur, pairDecimals: 1, lotDecimals: 8, costDecimals: 5,
            ordermin: "0.00005", costmin: "0.45", tickSize: "0.1"),
        PairInfo(
            key: "XETHZEUR", altname: "ETHEUR", wsname: "ETH/EUR", base: eth, quote: eur, pairDecimals: 2, lotDecimals: 8, costDecimals: 5,
            ordermin: "0.002", costmin: "0.45", tickSize: "0.01"),
        PairInfo(
            key: "DOTUSD", altname: "DOTUSD", wsname: "DOT/USD", base: dot, quote: usd, pairDecimals: 4, lotDecimals: 8, costDecimals: 5,
            ordermin: "0.6", costmin: "0.5", tickSize: "0.0001"),
        PairInfo(
            key: "SOLUSD", altname: "SOLUSD", wsname: "SOL/USD", base: sol, quote: usd, pairDecimals: 2, lotDecimals: 8, costDecimals: 5,
            ordermin: "0.02", costmin: "0.5", tickSize: "0.01"),
        PairInfo(
            key: "DOTEUR", altname: "DOTEUR", wsname: "DOT/EUR", base: dot, quote: eur, pairDecimals: 4, lotDecimals: 8, costDecimals: 5,
            ordermin: "0.6", costmin: "0.45", tickSize: "0.0001"),
        PairInfo(
            key: "SOLEUR", altname: "SOLEUR", wsname: "SOL/EUR", base: sol, quote: eur, pairDecimals: 2, lotDecimals: 8, costDecimals: 5,
            ordermin: "0.02", costmin: "0.45", tickSize: "0.01"),
        PairInfo(
            key: "ADAUSD", altname: "ADAUSD", wsname: "ADA/USD", base: ada, quote: usd, pairDecimals: 6, lotDecimals: 8, costDecimals: 5,
            ordermin: "10", costmin: "0.5", tickSize: "0.000001"),
        PairInfo(
            key: "ADAEUR", altname: "ADAEUR", wsname: "ADA/EUR", base: ada, quote: eur, pairDecimals: 6, lotDecimals: 8, costDecimals: 5,
            ordermin: "10", costmin: "0.45", tickSize: "0.000001"),
        PairInfo(
            key: "USDTZUSD", altname: "USDTUSD", wsname: "USDT/USD", base: usdt, quote: usd, pairDecimals: 4, lotDecimals: 8,
            costDecimals: 5, ordermin: "5", costmin: "0.5", tickSize: "0.0001"),
        PairInfo(
            key: "XETHXXBT", altname: "ETHXBT", wsname: "ETH/XBT", base: eth, quote: xbt, pairDecimals: 5, lotDecimals: 8, costDecimals: 10,
            ordermin: "0.002", costmin: "0.00002", tickSize: "0.00001"),
    ]

    /// Pairs every simulated account trades from the first week on.
    static let normalPairs = [0, 1, 2, 3, 4, 5]
    /// A pair no account trades in normal history (the "first-ever pair" anomaly).
    static let firstEverPair = 9

    /// Index of an asset given its key (`XXBT`) or altname (`XBT`).
    static func assetIndex(_ name: String) -> Int? {
        assets.firstIndex { $0.key == name || $0.altname == name }
    }

    /// Index of a pair given its key (`XXBTZUSD`) or altname (`XBTUSD`).
    static func pairIndex(_ name: String) -> Int? {
        pairs.firstIndex { $0.key == name || $0.altname == name }
    }
}
