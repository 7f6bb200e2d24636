/// Whether an allowlist entry has the shape of a withdrawal destination address, or looks like an address-book name.
///
/// Why it matters: Kraken's WithdrawStatus reports both the destination address (`info`) and the address-book
/// name (`key`) of a withdrawal. The name is chosen by whoever can edit the address book, which includes someone
/// who took over the account: saving their own address under the name `cold-wallet` must not make a payout look
/// allowed. So the withdrawal rules match addresses only, and a bare allowlist entry that looks like a name is a
/// configuration error instead of an entry that silently never matches.
///
/// The test (documented in sql/rules/README.md, "Destinations"), on the entry as written:
/// - **hex**: `0x` followed by at least 20 hexadecimal digits (Ethereum and other EVM chains, Starknet, Sui,
///   Aptos); compared case-insensitively, since EIP-55 mixed case is only a checksum;
/// - **IBAN**: two capital letters, two digits, then 11 to 30 capital letters or digits, no spaces (as Kraken
///   records it);
/// - **other**: 20 to 256 ASCII letters and digits, at least one of each, optionally after a lower-case
///   `scheme:` prefix (`bitcoincash:qq...`): bech32/bech32m (`bc1q...`, `cosmos1...`), base58 (legacy Bitcoin,
///   XRP, Solana, Tron, Polkadot), Cardano and most other chains; compared exactly.
///
/// Anything else (a space, a hyphen, an underscore or a dot; shorter than 20 characters; letters only) is taken
/// for a name. A misjudged entry is never a way around the rule: entries are compared with addresses, so a name
/// accepted as an address matches nothing and its withdrawals are reported. An address of a chain the test does not
/// know can be written as `{ address = "..." }`, which is taken as an address whatever its shape.
public enum DestinationShape: String, Sendable, Equatable {
    case hex
    case iban
    case other

    /// The shape of `entry`, or nil when it looks like an address-book name.
    public init?(of entry: String) {
        let bytes = Array(entry.utf8)
        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        func isUpper(_ b: UInt8) -> Bool { b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") }
        func isLower(_ b: UInt8) -> Bool { b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") }
        func isHex(_ b: UInt8) -> Bool {
            isDigit(b) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"))
        }
        if bytes.count >= 22, bytes[0] == UInt8(ascii: "0"), bytes[1] == UInt8(ascii: "x") || bytes[1] == UInt8(ascii: "X"),
            bytes.dropFirst(2).allSatisfy(isHex)
        {
            self = .hex
            return
        }
        if (15...34).contains(bytes.count), isUpper(bytes[0]), isUpper(bytes[1]), isDigit(bytes[2]), isDigit(bytes[3]),
            bytes.dropFirst(4).allSatisfy({ isUpper($0) || isDigit($0) })
        {
            self = .iban
            return
        }
        var body = bytes[...]
        if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            let scheme = bytes[..<colon]
            guard !scheme.isEmpty, scheme.allSatisfy(isLower) else { return nil }
            body = bytes[(colon + 1)...]
        }
        guard (20...256).contains(body.count), body.allSatisfy({ isDigit($0) || isUpper($0) || isLower($0) }),
            body.contains(where: isDigit), body.contains(where: { isUpper($0) || isLower($0) })
        else { return nil }
        self = .other
    }
}
