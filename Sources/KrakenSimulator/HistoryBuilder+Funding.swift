import Foundation
import KrakenAPI

/// Funding of the generated history: the account's address book, withdrawals and deposits (WithdrawStatus /
/// DepositStatus records with their ledger entries), staking transfers and rewards.
extension HistoryBuilder {
    mutating func makeAddresses() {
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

    mutating func randomAddress(asset: Int) -> String {
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
        let info =
            asset == Catalogue.eur || asset == Catalogue.usd ? "DE" + String(txid(Catalogue.eur).prefix(12)) : randomAddress(asset: asset)
        history.fundings.append(
            FundingRow(
                isWithdrawal: false, asset: UInt8(asset), amount: amount, fee: 0, time: time, refid: refid,
                txid: txid(asset), info: info, key: "", method: method, network: network, status: "Success",
                ledgerSerial: serial))
        return index
    }

    mutating func normalDeposit(first: Bool, time: Int64) {
        if first {
            deposit(asset: Catalogue.usd, amount: Fixed.fromDouble(typicalNotionalUSD * 300, decimals: 4), time: time)
            deposit(
                asset: Catalogue.eur, amount: Fixed.fromDouble(typicalNotionalUSD * 150 / assetUSD[Catalogue.eur], decimals: 4),
                time: time + 600 * 10_000)
            return
        }
        let asset = rng.chance(0.5) ? Catalogue.eur : Catalogue.usd
        let amount = typicalNotionalUSD * rng.uniform(5, 20) / assetUSD[asset]
        deposit(asset: asset, amount: Fixed.fromDouble(amount, decimals: 4), time: time)
    }

    /// A normal withdrawal amount of `asset` (in asset units): 1-3x the typical trade notional.
    mutating func normalWithdrawalAmount(_ asset: Int) -> Int64 {
        Fixed.fromDouble(typicalNotionalUSD * rng.uniform(1, 3) / assetUSD[asset], decimals: min(8, Catalogue.assets[asset].decimals))
            * Fixed.pow10[max(0, Catalogue.assets[asset].decimals - 8)]
    }

    mutating func normalWithdrawal(rotation: Int, time: Int64) {
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

    mutating func stakingTransfer(time: Int64) {
        let amount = balances[Catalogue.dot] / 2
        guard amount > 0 else { return }
        let ref = nextMisc
        nextMisc += 1
        appendLedger(
            time: time, type: .transfer, subtype: .spotToStaking, asset: Catalogue.dot, amount: -amount, fee: 0, refKind: .misc,
            refValue: ref)
        appendLedger(
            time: time, type: .transfer, subtype: .stakingFromSpot, asset: Catalogue.dotStaked, amount: amount, fee: 0, refKind: .misc,
            refValue: ref)
    }

    mutating func stakingReward(time: Int64) {
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

    /// Books a staking reward now (used when planting a ledger gap at run time).
    mutating func plantStakingReward(time: Int64) { stakingReward(time: time) }
}
