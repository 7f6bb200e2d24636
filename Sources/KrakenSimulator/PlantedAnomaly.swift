import AuditKernel
import KrakenAPI

/// One planted anomaly: what was planted, on which entity, and which analyser rule should find it.
public struct PlantedAnomaly: Sendable, Equatable {
    /// Stable id, e.g. `acct1-withdrawal_unknown_address-1`.
    public let id: String
    /// What was planted (e.g. `withdrawal_unknown_address`, `off_hours_trade_dst_spring`).
    public let kind: String
    public let rule: AnalyserRule
    public let account: String
    /// `withdrawal`, `trade`, `order`, `ledger`, `api_key`.
    public let entityType: String
    /// Kraken id of the entity (withdrawal refid, trade txid, order txid, ledger id, key fingerprint).
    public let entityID: String
    /// When it happened, in ticks of 1e-4 s (Kraken's time precision).
    public let timeTicks: Int64
    /// Kind-specific facts (amounts, addresses, local times, related ids).
    public let details: JSONValue

    /// The ground-truth JSON object of this anomaly.
    public var json: JSONValue {
        .object([
            ("id", .string(id)), ("kind", .string(kind)), ("rule", .string(rule.rawValue)),
            ("account", .string(account)), ("entity_type", .string(entityType)), ("entity_id", .string(entityID)),
            ("time", .string(TimeFormat.iso(ticks: timeTicks))), ("unixtime", .number(Fixed.time(timeTicks))),
            ("details", details),
        ])
    }
}
