import AuditKernel
import Foundation
import KrakenAPI
import KrakenSimulator
import Testing

/// Issue 15: `/_sim/address-book` lets a test play the account taker who re-points or renames an address-book entry;
/// later withdrawals to the entry carry the new address or name in WithdrawStatus (`info`, `key`).
@Suite struct AddressBookControlTests {
    static func post(_ sim: SimulatorServer, _ path: String, _ body: String) async throws -> (Int, JSONValue?) {
        let (status, data) = try await RawHTTP.send(
            URL(string: "http://127.0.0.1:\(sim.port)\(path)")!, headers: ["Content-Type": "application/json"], body: Array(body.utf8))
        return (status, try? JSONValue.parse(data))
    }

    @Test func repointAndRenameChangeLaterWithdrawalsOnly() async throws {
        try await TestSim.with { sim in
            let c = try TestSim.client(sim)
            let before = try await sim.state.addressBook(account: "acct1")
            let cold = try #require(before.first { $0.asset == "XXBT" && $0.key == "btc-cold-storage" })
            let earlier = try await c.privateCall("WithdrawStatus").result.arrayValue ?? []

            let (s1, repointed) = try await Self.post(
                sim, "/_sim/address-book", #"{"account":"acct1","asset":"XBT","name":"btc-cold-storage","address":"bc1qattacker"}"#)
            #expect(s1 == 200)
            #expect(repointed?["address"]?.stringValue == "bc1qattacker")
            let (s2, w) = try await Self.post(
                sim, "/_sim/address-book/withdraw", #"{"account":"acct1","asset":"XXBT","name":"btc-cold-storage","amount":"0.01"}"#)
            #expect(s2 == 200)
            let refid = try #require(w?["refid"]?.stringValue)
            let (s3, renamed) = try await Self.post(
                sim, "/_sim/address-book/rename", #"{"account":"acct1","asset":"XXBT","name":"btc-hardware-wallet","new_name":"hw-2027"}"#)
            #expect(s3 == 200)
            #expect(renamed?["name"]?.stringValue == "hw-2027")

            let now = try await c.privateCall("WithdrawStatus").result.arrayValue ?? []
            let record = try #require(now.first { $0["refid"]?.stringValue == refid })
            #expect(record["info"]?.stringValue == "bc1qattacker")
            #expect(record["key"]?.stringValue == "btc-cold-storage")
            #expect(record["amount"]?.stringValue?.hasPrefix("0.01") == true)
            // Earlier withdrawals keep their destination; the ground truth keeps the normal address book.
            for old in earlier {
                let same = now.first { $0["refid"]?.stringValue == old["refid"]?.stringValue }
                #expect(same?["info"]?.stringValue == old["info"]?.stringValue)
            }
            let truth = await sim.truthDocument
            let normal = truth["accounts"]?.arrayValue?.first?["normal_withdrawal_addresses"]?["XXBT"]?.arrayValue ?? []
            #expect(normal.contains { $0["address"]?.stringValue == cold.address && $0["key"]?.stringValue == "btc-cold-storage" })
            let book = try await sim.state.addressBook(account: "acct1")
            #expect(book.contains { $0.key == "hw-2027" } && !book.contains { $0.key == "btc-hardware-wallet" })
        }
    }

    @Test func badRequestsAreRefusedWithTheReason() async throws {
        try await TestSim.with { sim in
            let (missing, e1) = try await Self.post(sim, "/_sim/address-book", #"{"account":"acct1","asset":"XXBT","name":"x"}"#)
            #expect(missing == 400)
            #expect(e1?["error"]?.stringValue?.contains("'address' is required") == true)
            let (unknown, _) = try await Self.post(
                sim, "/_sim/address-book", #"{"account":"nobody","asset":"XXBT","name":"x","address":"y"}"#)
            #expect(unknown == 404)
            let (noEntry, e2) = try await Self.post(
                sim, "/_sim/address-book/withdraw", #"{"account":"acct1","asset":"XXBT","name":"no-such","amount":"1"}"#)
            #expect(noEntry == 400)
            #expect(e2?["error"]?.stringValue?.contains("no XXBT address-book entry named 'no-such'") == true)
            let (badAmount, _) = try await Self.post(
                sim, "/_sim/address-book/withdraw", #"{"account":"acct1","asset":"XXBT","name":"btc-cold-storage","amount":"-1"}"#)
            #expect(badAmount == 400)
        }
    }
}
