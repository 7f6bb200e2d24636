import AuditKernel
import Foundation

/// What one digest states about a database: every chain's head at `createdAt`, the previous digest's hash (so
/// digests form a chain of their own, as CloudTrail's do) and the key that signs it. Signed as canonical JSON
/// (``CanonicalJSON``) with snake_case member names; see ``SignedDigest``.
public struct DigestDocument: Codable, Equatable, Sendable {
    /// The only format this version writes and reads.
    public static let currentFormat = "kraken-audit-digest/1"

    /// ``currentFormat``.
    public var format: String
    /// `<system identifier>/<database name>`: PostgreSQL's `system_identifier` (pg_control_system()) and the
    /// database's name.
    public var database: String
    /// 1, 2, 3 … per database.
    public var sequence: Int64
    /// RFC 3339 UTC with microseconds, e.g. `2026-11-30T18:00:00.123456Z` (``timestamp(_:)``).
    public var createdAt: String
    /// Lower-case hex SHA-256 of the previous digest's signed bytes (``SignedDigest/digestHash``); nil for the first.
    public var previousDigestHash: String?
    /// RFC 3339 UTC: from when the chains are guaranteed (the migration that built them).
    public var integritySince: String
    /// ``Ed25519PublicKey/fingerprint`` of the signing key.
    public var publicKeyFingerprint: String
    /// Sorted by (accountId, table).
    public var chains: [ChainHead]

    /// A digest document (``format`` defaults to ``currentFormat``).
    public init(
        format: String = DigestDocument.currentFormat, database: String, sequence: Int64, createdAt: String, previousDigestHash: String?,
        integritySince: String, publicKeyFingerprint: String, chains: [ChainHead]
    ) {
        self.format = format
        self.database = database
        self.sequence = sequence
        self.createdAt = createdAt
        self.previousDigestHash = previousDigestHash
        self.integritySince = integritySince
        self.publicKeyFingerprint = publicKeyFingerprint
        self.chains = chains
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case format, database, sequence
        case createdAt = "created_at"
        case previousDigestHash = "previous_digest_hash"
        case integritySince = "integrity_since"
        case publicKeyFingerprint = "public_key_fingerprint"
        case chains
    }

    /// Writes every key, a missing previous digest as `null` (the shape of the signed JSON).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(database, forKey: .database)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(previousDigestHash, forKey: .previousDigestHash)
        try c.encode(integritySince, forKey: .integritySince)
        try c.encode(publicKeyFingerprint, forKey: .publicKeyFingerprint)
        try c.encode(chains, forKey: .chains)
    }

    /// `chains` in the order ``validate()`` requires: by account id, then by table name compared byte by byte
    /// (not by a database collation, which may order `_` differently).
    public static func sorted(_ chains: [ChainHead]) -> [ChainHead] {
        chains.sorted { a, b in
            a.accountId != b.accountId ? a.accountId < b.accountId : a.table.utf8.lexicographicallyPrecedes(b.table.utf8)
        }
    }

    /// `date` as ``createdAt`` wants it: RFC 3339 UTC, microseconds, `Z` (`2026-11-30T18:00:00.123456Z`).
    public static func timestamp(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = Int64((micros / 1_000_000).rounded(.down))
        let fraction = Int64(micros) - seconds * 1_000_000
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(fraction))
    }

    /// The document as the signed JSON value.
    public var jsonValue: JSONValue {
        .object([
            (CodingKeys.format.rawValue, .string(format)), (CodingKeys.database.rawValue, .string(database)),
            (CodingKeys.sequence.rawValue, .number(String(sequence))), (CodingKeys.createdAt.rawValue, .string(createdAt)),
            (CodingKeys.previousDigestHash.rawValue, previousDigestHash.map(JSONValue.string) ?? .null),
            (CodingKeys.integritySince.rawValue, .string(integritySince)),
            (CodingKeys.publicKeyFingerprint.rawValue, .string(publicKeyFingerprint)),
            (CodingKeys.chains.rawValue, .array(chains.map(\.jsonValue))),
        ])
    }

    /// The document from its JSON object (exactly its eight members), then ``validate()``d.
    init(json: JSONValue, at path: String) throws(IntegrityError) {
        let o = try DigestFields(json, at: path, names: CodingKeys.allCases.map(\.rawValue))
        format = try o.string(CodingKeys.format.rawValue)
        guard format == Self.currentFormat else {
            throw .malformedDigest(path: nil, reason: "\(path).format is \"\(format)\"; this version reads \"\(Self.currentFormat)\" only")
        }
        database = try o.string(CodingKeys.database.rawValue)
        sequence = try o.integer(CodingKeys.sequence.rawValue)
        createdAt = try o.string(CodingKeys.createdAt.rawValue)
        previousDigestHash = try o.optionalString(CodingKeys.previousDigestHash.rawValue)
        integritySince = try o.string(CodingKeys.integritySince.rawValue)
        publicKeyFingerprint = try o.string(CodingKeys.publicKeyFingerprint.rawValue)
        var chains: [ChainHead] = []
        for (i, element) in try o.array(CodingKeys.chains.rawValue).enumerated() {
            chains.append(try ChainHead(json: element, at: "\(path).chains[\(i)]"))
        }
        self.chains = chains
        try validate()
    }

    /// Checks what signing and parsing require: the format; `database` as `<digits>/<name>`; `sequence` ≥ 1;
    /// a previous digest hash exactly when `sequence` > 1; the time formats; the fingerprint's form; each
    /// chain's hash and row count; chains sorted by (accountId, table) without duplicates.
    public func validate() throws(IntegrityError) {
        func fail(_ reason: String) -> IntegrityError { .malformedDigest(path: nil, reason: reason) }
        guard format == Self.currentFormat else { throw fail("format is \"\(format)\", not \"\(Self.currentFormat)\"") }
        guard Self.split(database) != nil else {
            throw fail("database \"\(database)\" is not \"<system identifier>/<database name>\"")
        }
        guard sequence >= 1 else { throw fail("sequence \(sequence) is not a positive number") }
        switch (sequence, previousDigestHash) {
        case (1, .some): throw fail("the first digest (sequence 1) cannot name a previous digest")
        case (2..., .none): throw fail("digest \(sequence) does not name the previous digest's hash")
        case (_, .some(let hash)) where !Self.isHash(hash): throw fail("previous_digest_hash \"\(hash)\" is not 64 lower-case hex digits")
        default: break
        }
        guard Self.timeParts(createdAt) != nil else {
            throw fail("created_at \"\(createdAt)\" is not RFC 3339 UTC with microseconds (2026-11-30T18:00:00.123456Z)")
        }
        guard Self.isUTCTime(integritySince) else { throw fail("integrity_since \"\(integritySince)\" is not an RFC 3339 UTC time") }
        guard publicKeyFingerprint.hasPrefix("ed25519:"), publicKeyFingerprint.count == 24,
            publicKeyFingerprint.dropFirst(8).allSatisfy({ $0.isHexDigit && !$0.isUppercase })
        else { throw fail("public_key_fingerprint \"\(publicKeyFingerprint)\" is not ed25519: and 16 hex digits") }
        for (i, chain) in chains.enumerated() {
            guard Self.isHash(chain.headHash) else { throw fail("chains[\(i)].head_hash is not 64 lower-case hex digits") }
            guard chain.rows >= 0 else { throw fail("chains[\(i)].rows is negative") }
            guard !chain.table.isEmpty, !chain.account.isEmpty else { throw fail("chains[\(i)] has an empty account or table") }
            for (key, time) in [("first_at", chain.firstAt), ("last_at", chain.lastAt)] {
                if let time, !Self.isUTCTime(time) { throw fail("chains[\(i)].\(key) \"\(time)\" is not an RFC 3339 UTC time") }
            }
            if i > 0 {
                let previous = chains[i - 1]
                let ordered =
                    previous.accountId < chain.accountId
                    || (previous.accountId == chain.accountId && previous.table.utf8.lexicographicallyPrecedes(chain.table.utf8))
                guard ordered else {
                    throw fail("chains[\(i)] (\(chain.accountId), \(chain.table)) is out of order or repeated: sort by (account_id, table)")
                }
            }
        }
    }

    /// `<system identifier>/<database name>` split at the first `/`: the identifier all digits, the name non-empty.
    static func split(_ database: String) -> (system: String, name: String)? {
        guard let slash = database.firstIndex(of: "/") else { return nil }
        let system = String(database[..<slash])
        let name = String(database[database.index(after: slash)...])
        guard !system.isEmpty, system.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), !name.isEmpty else { return nil }
        return (system, name)
    }

    static func isHash(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` as its digit groups (year, month, day, hour, minute, second), else nil.
    static func timeParts(_ s: String) -> [String]? {
        let u = Array(s.utf8)
        guard u.count == 27, u[26] == UInt8(ascii: "Z"), u[19] == UInt8(ascii: "."), isUTCTime(s) else { return nil }
        return [
            String(s.prefix(4)), String(s.dropFirst(5).prefix(2)), String(s.dropFirst(8).prefix(2)),
            String(s.dropFirst(11).prefix(2)), String(s.dropFirst(14).prefix(2)), String(s.dropFirst(17).prefix(2)),
        ]
    }

    /// RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SS`, optionally `.` and 1 to 9 digits, then `Z`; fields in range.
    static func isUTCTime(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count >= 20, u.last == UInt8(ascii: "Z") else { return false }
        let digitPositions = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        guard digitPositions.allSatisfy({ isDigit(u[$0]) }), u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"),
            u[10] == UInt8(ascii: "T"), u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":")
        else { return false }
        if u.count > 20 {
            guard u[19] == UInt8(ascii: "."), (22...30).contains(u.count), u[20..<(u.count - 1)].allSatisfy(isDigit) else { return false }
        }
        func number(_ from: Int, _ length: Int) -> Int { Int(String(decoding: u[from..<(from + length)], as: UTF8.self)) ?? -1 }
        return (1...12).contains(number(5, 2)) && (1...31).contains(number(8, 2)) && number(11, 2) < 24 && number(14, 2) < 60
            && number(17, 2) < 61
    }
}
