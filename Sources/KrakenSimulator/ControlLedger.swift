import AuditKernel
import Foundation
import KrakenAPI

/// `/_sim/ledger/...` control endpoints (issue 15, red team): Kraken's ledger changes after a client has read it,
/// as when an entry is corrected or removed upstream. Not part of Kraken's API; loopback only like every `/_sim`
/// endpoint. The entry is named by `ledger_id`, or by `refid` (the newest entry with that reference).
///
/// - `POST /_sim/ledger/alter` `{account, ledger_id | refid, amount?, balance?}`: adds the decimal `amount` to the
///   entry's amount and/or `balance` to its balance; every other entry stays as it was (so the balance chain
///   breaks at the entry). Answers the entry as Kraken now serves it (`{ledger_id, refid, asset, amount, fee,
///   balance}`).
/// - `POST /_sim/ledger/delete` `{account, ledger_id | refid}`: removes the entry from every answer; later entries
///   keep their balances (which still include it). Answers the removed entry.
///
/// The ground truth is not changed: the test or operator that alters the ledger knows what it did.
extension SimulatorState {
    /// Handles a `/_sim/ledger/...` request; `field` reads a body or query field.
    func ledgerControl(method: String, path: String, field: (String) -> String?) throws(SimulatorError) -> JSONValue {
        guard method == "POST" else {
            throw .invalidOption("unknown ledger request \(method) \(path) (POST /_sim/ledger/alter, POST /_sim/ledger/delete)")
        }
        guard let account = field("account"), !account.isEmpty else { throw .invalidOption("'account' is required") }
        switch path {
        case "/_sim/ledger/alter":
            return try alterLedgerEntry(
                account: account, ledgerID: field("ledger_id"), refid: field("refid"), amountDelta: field("amount"),
                balanceDelta: field("balance"))
        case "/_sim/ledger/delete":
            return try deleteLedgerEntry(account: account, ledgerID: field("ledger_id"), refid: field("refid"))
        default:
            throw .invalidOption("unknown ledger request \(method) \(path) (POST /_sim/ledger/alter, POST /_sim/ledger/delete)")
        }
    }

    /// Changes one served ledger entry of `account`: `amountDelta` and `balanceDelta` are decimal texts added to
    /// its amount and balance. Returns the entry as now served.
    @discardableResult
    public func alterLedgerEntry(account: String, ledgerID: String?, refid: String?, amountDelta: String?, balanceDelta: String?)
        throws(SimulatorError) -> JSONValue
    {
        let a = try find(account)
        let i = try ledgerEntryIndex(a, ledgerID: ledgerID, refid: refid)
        let decimals = Catalogue.assets[Int(a.builder.history.ledger[i].asset)].decimals
        guard amountDelta != nil || balanceDelta != nil else { throw .invalidOption("give 'amount' and/or 'balance' (decimal changes)") }
        if let d = amountDelta { a.builder.history.ledger[i].amount += try Self.units(d, decimals: decimals, name: "amount") }
        if let d = balanceDelta { a.builder.history.ledger[i].balance += try Self.units(d, decimals: decimals, name: "balance") }
        return Self.ledgerEntryJSON(a.builder.history, a.builder.history.ledger[i])
    }

    /// Removes one ledger entry of `account` from every answer. Returns the removed entry.
    @discardableResult
    public func deleteLedgerEntry(account: String, ledgerID: String?, refid: String?) throws(SimulatorError) -> JSONValue {
        let a = try find(account)
        let i = try ledgerEntryIndex(a, ledgerID: ledgerID, refid: refid)
        let removed = a.builder.history.ledger.remove(at: i)
        a.historyChanged(fromLedgerIndex: a.builder.history.ledger.count)
        return Self.ledgerEntryJSON(a.builder.history, removed)
    }

    private func ledgerEntryIndex(_ a: SimAccount, ledgerID: String?, refid: String?) throws(SimulatorError) -> Int {
        let h = a.builder.history
        if let ledgerID, !ledgerID.isEmpty {
            guard let i = h.ledgerIndex(id: ledgerID) else { throw .invalidOption("account '\(a.name)' has no ledger entry '\(ledgerID)'") }
            return i
        }
        guard let refid, !refid.isEmpty else { throw .invalidOption("'ledger_id' or 'refid' is required") }
        guard let i = h.ledger.lastIndex(where: { h.refid($0) == refid }) else {
            throw .invalidOption("account '\(a.name)' has no ledger entry with refid '\(refid)'")
        }
        return i
    }

    private static func units(_ text: String, decimals: Int, name: String) throws(SimulatorError) -> Int64 {
        guard let v = Double(text), v.isFinite, v != 0 else { throw .invalidOption("'\(name)' must be a non-zero decimal, not '\(text)'") }
        return Fixed.fromDouble(v, decimals: decimals)
    }

    private static func ledgerEntryJSON(_ h: AccountHistory, _ row: LedgerRow) -> JSONValue {
        let decimals = Catalogue.assets[Int(row.asset)].decimals
        return .object([
            ("ledger_id", .string(h.ledgerID(row))), ("refid", .string(h.refid(row))),
            ("asset", .string(Catalogue.assets[Int(row.asset)].key)), ("amount", .string(Fixed.format(row.amount, decimals: decimals))),
            ("fee", .string(Fixed.format(row.fee, decimals: decimals))),
            ("balance", .string(Fixed.format(row.balance, decimals: decimals))),
        ])
    }
}
