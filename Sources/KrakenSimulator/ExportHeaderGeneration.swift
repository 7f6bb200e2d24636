import Foundation
import KrakenAPI
import ZIPFoundation

/// Which generation of Kraken's export file layout the simulator writes (../shared/kraken-export-api.md §5).
public enum ExportHeaderGeneration: String, Sendable, CaseIterable {
    /// Before Oct 2020: ledgers `txid,refid,time,type,aclass,asset,amount,fee,balance` with REST asset keys
    /// (`XXBT`); trades `txid,ordertxid,pair,time,type,ordertype,price,cost,fee,vol,margin,misc,ledgers` with REST
    /// pair keys (`XXBTZUSD`).
    case classic
    /// Since 2024: ledgers add `subtype` and `wallet` and use display names (`BTC`, `EUR`); trades add the position
    /// columns (`postxid,posstatus,cprice,...`, bare empty) and name pairs `BTC/USD`.
    case current
}
