import AuditKernel
import KrakenAPI

/// Kraken's other names for its REST asset and pair keys, from the public `Assets` and `AssetPairs` lists (no
/// counter cost): `BTC`/`XBT`/`XXBT` → `XXBT`, `XBT/USD`/`BTC/USD`/`XBTUSD` → `XXBTZUSD`. The data export (issue 10)
/// and the WebSocket v2 stream (issue 20) name assets and pairs this way; rows are stored under the REST keys.
public struct KrakenNames: Sendable, Equatable {
    /// Any known name → the REST asset key.
    public var assets: [String: String]
    /// Any known name → the REST pair key.
    public var pairs: [String: String]

    public init(assets: [String: String], pairs: [String: String]) {
        self.assets = assets
        self.pairs = pairs
    }

    /// Reads both lists through `paced` (public calls: logged, no counter cost).
    public static func load(_ paced: PacedClient) async throws(CollectError) -> KrakenNames {
        let assetsResult = try await paced.publicCall("Assets").result
        let pairsResult = try await paced.publicCall("AssetPairs").result
        return KrakenNames(assetsResult: assetsResult, pairsResult: pairsResult)
    }

    /// Builds the maps from the two `result` objects.
    public init(assetsResult: JSONValue, pairsResult: JSONValue) {
        var assets: [String: String] = [:]
        var display: [String: [String]] = [:]  // REST key → names the export may use
        // Kraken's newer names for two legacy altnames (WebSocket v2 and current export headers).
        let extra = ["XBT": ["BTC"], "XDG": ["DOGE"]]
        for (key, info) in assetsResult.objectMembers ?? [] {
            assets[key] = key
            display[key] = [key]
            if let alt = info["altname"]?.stringValue {
                if assets[alt] == nil { assets[alt] = key }
                display[key, default: []].append(alt)
                for name in extra[alt] ?? [] where assets[name] == nil {
                    assets[name] = key
                    display[key, default: []].append(name)
                }
            }
        }
        var pairs: [String: String] = [:]
        for (key, _) in pairsResult.objectMembers ?? [] { pairs[key] = key }
        for (key, info) in pairsResult.objectMembers ?? [] {
            if let alt = info["altname"]?.stringValue, pairs[alt] == nil { pairs[alt] = key }
            if let ws = info["wsname"]?.stringValue, pairs[ws] == nil { pairs[ws] = key }
            if let base = info["base"]?.stringValue, let quote = info["quote"]?.stringValue {
                for b in display[base] ?? [base] {
                    for q in display[quote] ?? [quote] where pairs["\(b)/\(q)"] == nil { pairs["\(b)/\(q)"] = key }
                }
            }
        }
        self.assets = assets
        self.pairs = pairs
    }

    /// The REST asset key of a WebSocket v2 `balances` entry (../shared/kraken-websocket.md §3): the asset of a
    /// spot wallet, or the earn asset of an earn wallet (`locked` → `.S`, `bonded` → `.B`, `flexible` → `.F`,
    /// `liquid` → `.M`; Kraken has not documented this mapping, open question 7: REST stays the truth and a
    /// difference is recorded as a `source_mismatch`). Nil when the name is unknown.
    public func restAsset(_ asset: String, walletType: String?, walletId: String?) -> String? {
        guard walletType == "earn" else { return assets[asset] }
        let suffix: String
        switch walletId {
        case "locked": suffix = ".S"
        case "bonded": suffix = ".B"
        case "flexible": suffix = ".F"
        case "liquid": suffix = ".M"
        default: return nil
        }
        // Earn assets are keyed by the base's altname plus the suffix (DOT.S, XBT.M).
        guard let base = assets[asset] else { return assets[asset + suffix] }
        for name in [asset] + assets.filter({ $0.value == base }).map(\.key).sorted() {
            if let key = assets[name + suffix] { return key }
        }
        return nil
    }
}
