import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import TestSupport
import Testing

@testable import Collector

/// A seeded property test over the response decoder: malformed JSON, wrong types, huge numbers, 40-digit
/// decimals, negative fees, unknown ledger types, unicode ids, missing fields, duplicate ids. No crash; every
/// input is either stored exactly (checked in PostgreSQL) or rejected with an error naming the problem.
@Suite struct DecoderFuzzTests {
    static let base = """
        {"error":[],"result":{"ledger":{
         "L4UESK-KG3EQ-UFO4T5":{"refid":"THVRQM-33VKH-UCI7BS","time":1688667796.8802,"type":"trade","subtype":"","aclass":"currency","asset":"ZUSD","amount":"-600.2000","fee":"0.9603","balance":"52131.9529"},
         "LMKZCZ-Z3GVL-CXKK4H":{"refid":"THVRQM-33VKH-UCI7BS","time":1688667796.8802,"type":"trade","subtype":"","aclass":"currency","asset":"XXBT","amount":"0.0200000000","fee":"0.0000000000","balance":"1.2635000000"}},
         "count":2}}
        """

    /// Structured mutations that keep the JSON valid but change types and values.
    static let valueMutations: [(String, String)] = [
        ("\"-600.2000\"", "\"-1234567890123456789012345678.123456789012\""),  // 40 digits: must stay exact
        ("\"0.9603\"", "\"-0.9603\""),  // negative fee: stored as sent (the analyser's business)
        ("\"type\":\"trade\"", "\"type\":\"quantum_staking\""),  // unknown ledger type: stored
        ("\"L4UESK-KG3EQ-UFO4T5\"", "\"L4UESK-ΚΓ3ΕΘ-ÜFO4T5\""),  // unicode id: stored
        ("\"-600.2000\"", "-600.2000"),  // number instead of a string: accepted exactly
        ("\"-600.2000\"", "1e999999999"),  // absurd exponent: rejected
        ("\"-600.2000\"", "\"12abc\""),  // not a decimal: rejected
        ("\"-600.2000\"", "null"),  // missing value: rejected
        ("\"asset\":\"ZUSD\",", ""),  // missing field: rejected
        ("1688667796.8802", "\"soon\""),  // bad time: rejected
        ("1688667796.8802", "99999999999999999999"),  // time out of range: rejected
        ("\"refid\":\"THVRQM-33VKH-UCI7BS\"", "\"refid\":12"),  // wrong type: rejected
        ("\"LMKZCZ-Z3GVL-CXKK4H\"", "\"L4UESK-KG3EQ-UFO4T5\""),  // duplicate id with different content: rejected
        ("\"ledger\":{", "\"ledger\":["),  // wrong container: malformed JSON
    ]

    func decode(_ text: String) throws -> [[(any PGEncodable)?]] {
        let envelope = try JSONValue.parse(text)
        guard let result = envelope["result"] else { throw CollectError.malformed(endpoint: "Ledgers", reason: "no result") }
        let items = try dedupe(try entities(result, key: "ledger", endpoint: "Ledgers"), endpoint: "Ledgers")
        return try CollectStore.ledgerRows(items, endpoint: "Ledgers")
    }

    @Test func mutatedResponsesAreStoredExactlyOrRejectedClearly() throws {
        let database = try TestDatabase("fuzz")
        let db = try database.migrated()
        let accountId = try AccountStore.ensure(on: db, name: "fuzz")
        try CollectStore.prepare(db)
        var rng = SplitMix(seed: 424242)
        var accepted = 0
        var rejected = 0
        let bytes = Array(Self.base.utf8)
        for i in 0..<3000 {
            var text: String
            switch i % 4 {
            case 0:  // structured mutation (one or two)
                text = Self.base
                for _ in 0..<(1 + Int(rng.next() % 2)) {
                    let (a, b) = Self.valueMutations[Int(rng.next() % UInt64(Self.valueMutations.count))]
                    text = text.replacingOccurrences(of: a, with: b)
                }
            case 1:  // truncation
                text = String(decoding: bytes.prefix(Int(rng.next() % UInt64(bytes.count))), as: UTF8.self)
            case 2:  // random byte flips
                var b = bytes
                for _ in 0..<(1 + Int(rng.next() % 4)) { b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next()) }
                text = String(decoding: b, as: UTF8.self)
            default:  // random insertion of JSON punctuation
                var b = bytes
                b.insert(Array("{}[]\",:0-e.".utf8)[Int(rng.next() % 11)], at: Int(rng.next() % UInt64(b.count)))
                text = String(decoding: b, as: UTF8.self)
            }
            do {
                let rows = try decode(text)
                accepted += 1
                // Stored exactly: every amount/fee/balance and raw object round-trips through PostgreSQL. (Stored
                // rows are never removed, migration 0012: each attempt is rolled back after it was read.)
                let stored = try Self.storedThenRolledBack(db) {
                    _ = try CollectStore.upsertLedger(db, accountId: accountId, rows: rows)
                    return try db.query(
                        "SELECT ledger_id, amount::text, fee::text, balance::text, raw->>'amount' FROM audit.ledger_entries WHERE account_id = $1 ORDER BY ledger_id",
                        [accountId]
                    ).rows
                }
                #expect(stored.count == rows.count)
                for r in stored {
                    let amount = try r.decode(1, as: String.self)
                    let rawAmount = try r.decode(4, as: String.self)
                    #expect(ExactDecimal(amount)!.isNumericallyEqual(to: ExactDecimal(rawAmount)!), "\(amount) vs \(rawAmount)")
                }
            } catch let e as JSONParseError {
                rejected += 1
                #expect(e.description.contains("malformed JSON"))
            } catch let e as CollectError {
                rejected += 1
                #expect(e.description.contains("Ledgers"))
            } catch let e as PGError {
                Issue.record("accepted input failed in PostgreSQL: \(e) for \(text.prefix(300))")
            }
        }
        #expect(accepted > 100 && rejected > 100, "accepted \(accepted), rejected \(rejected)")
        // The 40-digit decimal is kept to the last digit.
        let rows = try decode(Self.base.replacingOccurrences(of: "\"-600.2000\"", with: "\"-1234567890123456789012345678.123456789012\""))
        let amount = try Self.storedThenRolledBack(db) {
            _ = try CollectStore.upsertLedger(db, accountId: accountId, rows: rows)
            return try db.query("SELECT amount::text FROM audit.ledger_entries WHERE ledger_id = 'L4UESK-KG3EQ-UFO4T5'").rows[0]
                .decode(0, as: String.self)
        }
        #expect(amount == "-1234567890123456789012345678.123456789012")
    }

    private struct RolledBack<T: Sendable>: Error { let value: T }

    /// Runs `body` in a transaction that is rolled back afterwards, returning what it read.
    private static func storedThenRolledBack<T: Sendable>(_ db: PGConnection, _ body: () throws -> T) throws -> T {
        do {
            try db.transaction { () throws -> Void in throw RolledBack(value: try body()) }
        } catch let done as RolledBack<T> {
            return done.value
        }
        preconditionFailure("the transaction body always throws")
    }
}
