import AuditKernel
import Foundation
import KrakenAPI

/// `/_sim/address-book` control endpoints: play the account taker who edits the withdrawal address book, then
/// withdraws "to a familiar name". Not part of Kraken's API (Kraken's own `Withdraw` takes the address-book name as
/// `key`; `/_sim/address-book/withdraw` does the same without needing withdraw rights on the audit key).
///
/// - `GET /_sim/address-book?account=acct1`: the account's address book (`[{asset, name, address}]`).
/// - `POST /_sim/address-book` `{account, asset, name, address}`: re-point entry `name` of `asset` to `address`
///   (creates the entry when there is none).
/// - `POST /_sim/address-book/rename` `{account, asset, name, new_name}`: rename an entry; its address stays.
/// - `POST /_sim/address-book/withdraw` `{account, asset, name, amount}`: a withdrawal now to the entry's current
///   address under its current name (WithdrawStatus `info` and `key`), funded by a deposit an hour before when the
///   balance is short. Answers `{refid, asset, name, address, amount}`.
///
/// The ground truth's `normal_withdrawal_addresses` stay the generated ones: what the operator knows as normal.
extension SimulatorState {
    /// Handles a `/_sim/address-book...` request; `field` reads a body or query field.
    func addressBookControl(method: String, path: String, field: (String) -> String?) throws(SimulatorError) -> JSONValue {
        func required(_ name: String) throws(SimulatorError) -> String {
            guard let v = field(name), !v.isEmpty else { throw .invalidOption("'\(name)' is required") }
            return v
        }
        switch (method, path) {
        case ("GET", "/_sim/address-book"):
            return .array(try addressBook(account: try required("account")).map(Self.entryJSON))
        case ("POST", "/_sim/address-book"):
            let entry = try repointAddress(
                account: try required("account"), asset: try required("asset"), name: try required("name"),
                address: try required("address"))
            return Self.entryJSON(entry)
        case ("POST", "/_sim/address-book/rename"):
            let entry = try renameAddress(
                account: try required("account"), asset: try required("asset"), name: try required("name"),
                newName: try required("new_name"))
            return Self.entryJSON(entry)
        case ("POST", "/_sim/address-book/withdraw"):
            let (refid, entry, amount) = try withdrawToAddressBook(
                account: try required("account"), asset: try required("asset"), name: try required("name"),
                amount: try required("amount"))
            return .object([
                ("refid", .string(refid)), ("asset", .string(entry.asset)), ("name", .string(entry.key)),
                ("address", .string(entry.address)), ("amount", .string(amount)),
            ])
        default:
            throw .invalidOption(
                "unknown address-book request \(method) \(path) (GET/POST /_sim/address-book, POST /_sim/address-book/rename, POST /_sim/address-book/withdraw)"
            )
        }
    }

    /// The current address book of `account`.
    public func addressBook(account: String) throws(SimulatorError) -> [WithdrawalAddress] {
        let a = try find(account)
        return a.addressBook ?? a.builder.profileTruth.normalWithdrawalAddresses
    }

    /// Points entry `name` of `asset` at `address` for later withdrawals (adds the entry when missing).
    @discardableResult
    public func repointAddress(account: String, asset: String, name: String, address: String) throws(SimulatorError) -> WithdrawalAddress {
        let a = try find(account)
        let key = try Self.assetKey(asset)
        var book = a.addressBook ?? a.builder.profileTruth.normalWithdrawalAddresses
        let entry = WithdrawalAddress(asset: key, address: address, key: name)
        if let i = book.firstIndex(where: { $0.asset == key && $0.key == name }) { book[i] = entry } else { book.append(entry) }
        a.addressBook = book
        return entry
    }

    /// Renames entry `name` of `asset` to `newName`; its address stays.
    @discardableResult
    public func renameAddress(account: String, asset: String, name: String, newName: String) throws(SimulatorError) -> WithdrawalAddress {
        let a = try find(account)
        let key = try Self.assetKey(asset)
        var book = a.addressBook ?? a.builder.profileTruth.normalWithdrawalAddresses
        guard let i = book.firstIndex(where: { $0.asset == key && $0.key == name }) else {
            throw .invalidOption("account '\(account)' has no \(key) address-book entry named '\(name)'")
        }
        book[i] = WithdrawalAddress(asset: key, address: book[i].address, key: newName)
        a.addressBook = book
        return book[i]
    }

    /// Books a withdrawal of `amount` (decimal text) of `asset` now, to address-book entry `name`.
    public func withdrawToAddressBook(account: String, asset: String, name: String, amount: String) throws(SimulatorError)
        -> (refid: String, entry: WithdrawalAddress, amount: String)
    {
        let a = try find(account)
        let key = try Self.assetKey(asset)
        guard let index = Catalogue.assetIndex(key) else { throw .invalidOption("unknown asset '\(asset)'") }
        guard
            let entry = (a.addressBook ?? a.builder.profileTruth.normalWithdrawalAddresses).first(where: {
                $0.asset == key && $0.key == name
            })
        else {
            throw .invalidOption("account '\(account)' has no \(key) address-book entry named '\(name)'")
        }
        let decimals = Catalogue.assets[index].decimals
        guard let value = Double(amount), value.isFinite, value > 0 else {
            throw .invalidOption("'amount' must be a positive decimal, not '\(amount)'")
        }
        let units = Fixed.fromDouble(value, decimals: decimals)
        let startLedger = a.builder.history.ledger.count
        let now = max(nowTicks(), a.builder.lastTime + 1)
        let needed = units * 2
        if a.builder.balances[index] < needed {
            a.builder.deposit(asset: index, amount: needed - a.builder.balances[index], time: max(a.builder.lastTime + 1, now - 36_000_000))
        }
        let time = max(now, a.builder.lastTime + 1)
        guard let i = a.builder.withdraw(asset: index, amount: units, address: entry.address, key: entry.key, time: time) else {
            throw .invalidOption("the \(key) balance does not cover the withdrawal")
        }
        a.historyChanged(fromLedgerIndex: startLedger)
        writeTruthFile()
        return (a.builder.history.fundings[i].refid, entry, Fixed.format(units, decimals: decimals))
    }

    private static func assetKey(_ asset: String) throws(SimulatorError) -> String {
        guard let i = Catalogue.assetIndex(asset) else { throw .invalidOption("unknown asset '\(asset)'") }
        return Catalogue.assets[i].key
    }

    private static func entryJSON(_ e: WithdrawalAddress) -> JSONValue {
        .object([("asset", .string(e.asset)), ("name", .string(e.key)), ("address", .string(e.address))])
    }
}
