import AuditKernel
import Foundation
import KrakenAPI
import KrakenSimulator
import Testing

@Suite("Simulator authentication, permissions and the rate counter")
struct AuthTests {
    @Test func signedCallsAndKeyInfo() async throws {
        let sim = try await TestSim.start()
        let nonces = CounterNonces(start: 1_700_000_000_000)
        let client = try TestSim.client(sim, nonces: nonces)
        let balance = try await client.privateCall("Balance")
        #expect(balance.result["ZUSD"]?.stringValue != nil)
        let info = try await client.privateCall("GetApiKeyInfo")
        #expect(info.result["apiKey"]?.stringValue == sim.accounts[0].apiKey)
        #expect(info.result["nonce"]?.stringValue == "1700000000002")
        #expect(info.result["nonceWindow"]?.numberText == "0")
        let perms = info.result["permissions"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(Set(perms) == ["query-funds", "query-open-trades", "query-closed-trades", "query-ledger", "create-ws-token"])
        #expect(info.result["createdTime"]?.stringValue != nil && info.result["validUntil"]?.stringValue == "0")
        #expect(info.result["lastUsed"]?.stringValue != nil)
        await sim.stop()
    }

    @Test func wrongSignatureWrongKeyAndUnknownMethod() async throws {
        let sim = try await TestSim.start()
        let wrongSecret = Data((0..<64).map { UInt8($0) }).base64EncodedString()
        let bad = try TestSim.client(sim, secret: wrongSecret)
        #expect(await TestSim.errors { try await bad.privateCall("Balance") } == ["EAPI:Invalid signature"])
        let unknown = try TestSim.client(sim, apiKey: "not-a-key")
        #expect(await TestSim.errors { try await unknown.privateCall("Balance") } == ["EAPI:Invalid key"])
        let good = try TestSim.client(sim)
        #expect(await TestSim.errors { try await good.privateCall("NoSuchMethod") } == ["EGeneral:Unknown method"])
        #expect(await TestSim.errors { try await good.privateCall("AddOrder") } == ["EGeneral:Permission denied"])
        #expect(await TestSim.errors { try await good.publicCall("NoSuchMethod") } == ["EGeneral:Unknown method"])
        await sim.stop()
    }

    @Test func replayedAndLowerNoncesAreRejected() async throws {
        let sim = try await TestSim.start()
        let ok = try await RawHTTP.signedPost(sim, method: "Balance", nonce: 500, body: "nonce=500")
        #expect(ok["error"]?.arrayValue == [])
        let replay = try await RawHTTP.signedPost(sim, method: "Balance", nonce: 500, body: "nonce=500")
        #expect(replay["error"]?.arrayValue == [.string("EAPI:Invalid nonce")])
        let lower = try await RawHTTP.signedPost(sim, method: "Balance", nonce: 499, body: "nonce=499")
        #expect(lower["error"]?.arrayValue == [.string("EAPI:Invalid nonce")])
        let missing = try await RawHTTP.signedPost(sim, method: "Balance", nonce: 501, body: "ofs=0")
        #expect(missing["error"]?.arrayValue == [.string("EAPI:Invalid nonce")])
        // Body changed after signing: the signature covers the exact bytes.
        let a = sim.accounts[0]
        let sig = try RequestSigner(secret: Secret(a.secret)).sign(
            path: "/0/private/Ledgers", nonce: 600, body: Array("nonce=600&asset=XXBT%2CZUSD".utf8))
        let (_, bytes) = try await RawHTTP.send(
            sim.baseURL.appendingPathComponent("0/private/Ledgers"),
            headers: ["API-Key": a.apiKey, "API-Sign": sig, "Content-Type": "application/x-www-form-urlencoded"],
            body: Array("nonce=600&asset=XXBT,ZUSD".utf8))
        #expect(try JSONValue.parse(bytes)["error"]?.arrayValue == [.string("EAPI:Invalid signature")])
        let counter = try await sim.state.counter(account: "acct1")
        #expect(counter.highestNonce == 500)
        await sim.stop()
    }

    @Test func nonceWindowToleratesReorderingButNotDuplicates() async throws {
        let sim = try await TestSim.start { $0.nonceWindow = 10 }
        #expect(try await RawHTTP.signedPost(sim, method: "Balance", nonce: 100, body: "nonce=100")["error"]?.arrayValue == [])
        #expect(try await RawHTTP.signedPost(sim, method: "Balance", nonce: 95, body: "nonce=95")["error"]?.arrayValue == [])
        #expect(
            try await RawHTTP.signedPost(sim, method: "Balance", nonce: 95, body: "nonce=95")["error"]?.arrayValue == [
                .string("EAPI:Invalid nonce")
            ])
        #expect(
            try await RawHTTP.signedPost(sim, method: "Balance", nonce: 89, body: "nonce=89")["error"]?.arrayValue == [
                .string("EAPI:Invalid nonce")
            ])
        await sim.stop()
    }

    @Test func jsonBodiesAreAccepted() async throws {
        let sim = try await TestSim.start()
        let body = #"{"nonce":1700000000002,"asset":"XXBT,ZUSD","type":"trade","ofs":0}"#
        let r = try await RawHTTP.signedPost(sim, method: "Ledgers", nonce: 1_700_000_000_002, body: body, contentType: "application/json")
        #expect(r["error"]?.arrayValue == [])
        let assets = Set(r["result"]?["ledger"]?.objectMembers?.compactMap { $0.1["asset"]?.stringValue } ?? [])
        #expect(!assets.isEmpty && assets.isSubset(of: ["XXBT", "ZUSD"]))
        await sim.stop()
    }

    @Test func missingPermissionIsDenied() async throws {
        let sim = try await TestSim.start { $0.accountPermissions = ["acct2": ["query-funds"]] }
        let c = try TestSim.client(sim, account: 1)
        #expect(await TestSim.errors { try await c.privateCall("Ledgers") } == ["EGeneral:Permission denied"])
        #expect(await TestSim.errors { try await c.privateCall("TradesHistory") } == ["EGeneral:Permission denied"])
        #expect(await TestSim.errors { try await c.privateCall("Balance") } == [])
        #expect(await TestSim.errors { try await c.privateCall("WithdrawStatus") } == ["EGeneral:Permission denied"])
        // QueryOrders: per order status (open orders need query-open-trades).
        let a1 = try TestSim.client(sim)
        let open = try await a1.privateCall("OpenOrders")
        let openID = try #require(open.result["open"]?.objectMembers?.first?.0)
        try await sim.state.setPermissions(account: "acct1", ["query-closed-trades"])
        #expect(
            await TestSim.errors { try await a1.privateCall("QueryOrders", parameters: [("txid", openID)]) } == [
                "EGeneral:Permission denied"
            ])
        await sim.stop()
    }

    @Test func otpIsRequiredWhenConfigured() async throws {
        let sim = try await TestSim.start { $0.otp = ["acct1": "246810"] }
        let nonces = CounterNonces()
        #expect(
            await TestSim.errors { try await TestSim.client(sim, nonces: nonces).privateCall("Balance") } == ["EGeneral:Permission denied"])
        #expect(
            await TestSim.errors { try await TestSim.client(sim, otp: "000000", nonces: nonces).privateCall("Balance") } == [
                "EAPI:Invalid signature"
            ])
        #expect(await TestSim.errors { try await TestSim.client(sim, otp: "246810", nonces: nonces).privateCall("Balance") } == [])
        await sim.stop()
    }

    @Test func counterExceededAndMaximumRecorded() async throws {
        let sim = try await TestSim.start {
            $0.maxCounter = 5; $0.decayPerSecond = 0
        }
        let c = try TestSim.client(sim)
        #expect(await TestSim.errors { try await c.privateCall("Ledgers") } == [])  // 2
        #expect(await TestSim.errors { try await c.privateCall("Ledgers") } == [])  // 4
        #expect(await TestSim.errors { try await c.privateCall("Balance") } == [])  // 5 = max: allowed
        var snap = try await sim.state.counter(account: "acct1")
        #expect(snap.counter == 5 && snap.maxCounterEver == 5 && snap.rateLimited == 0)
        #expect(await TestSim.errors { try await c.privateCall("Balance") } == ["EAPI:Rate limit exceeded"])
        snap = try await sim.state.counter(account: "acct1")
        #expect(snap.counter == 6 && snap.maxCounterEver == 6 && snap.rateLimited == 1)
        // Observable over HTTP too.
        let json = try await RawHTTP.control(sim, "/_sim/counters/acct1")
        #expect(json["max_counter_ever"]?.numberText == "6.0000")
        await sim.stop()
    }

    @Test func counterDecays() async throws {
        let sim = try await TestSim.start {
            $0.tier = .pro; $0.maxCounter = nil; $0.decayPerSecond = nil
        }
        let c = try TestSim.client(sim)
        for _ in 0..<5 { _ = try await c.privateCall("Ledgers") }
        #expect(try await sim.state.counter(account: "acct1").counter > 9)
        await sim.state.advanceMonotonicClock(by: 30)
        let after = try await sim.state.counter(account: "acct1")
        #expect(after.counter == 0 && after.maxCounter == 20 && after.decayPerSecond == 1 && after.maxCounterEver > 9)
        await sim.stop()
    }

    @Test func repeatedFailuresLockTheKeyOut() async throws {
        let sim = try await TestSim.start {
            $0.lockoutThreshold = 3; $0.lockoutSeconds = 60
        }
        let unknown = try TestSim.client(sim, apiKey: "hammering-key")
        for _ in 0..<3 { #expect(await TestSim.errors { try await unknown.privateCall("Balance") } == ["EAPI:Invalid key"]) }
        #expect(await TestSim.errors { try await unknown.privateCall("Balance") } == ["EGeneral:Temporary lockout"])
        // A real key with a wrong secret: signature failures lock it too; the right secret then also waits.
        let wrong = try TestSim.client(sim, secret: Data((0..<64).map { UInt8($0) }).base64EncodedString())
        for _ in 0..<3 { _ = await TestSim.errors { try await wrong.privateCall("Balance") } }
        let good = try TestSim.client(sim)
        #expect(await TestSim.errors { try await good.privateCall("Balance") } == ["EGeneral:Temporary lockout"])
        #expect(try await sim.state.counter(account: "acct1").lockoutRemaining > 50)
        await sim.state.advanceMonotonicClock(by: 61)
        #expect(await TestSim.errors { try await good.privateCall("Balance") } == [])
        await sim.stop()
    }

    @Test func publicEndpoints() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        let time = try await c.publicCall("Time")
        let unixtime = try #require(time.result["unixtime"]?.numberText.flatMap(Int64.init))
        #expect(abs(unixtime - Int64(Date().timeIntervalSince1970)) < 5)
        #expect(time.result["rfc1123"]?.stringValue?.hasSuffix("+0000") == true)
        #expect(try await c.publicCall("SystemStatus").result["status"]?.stringValue == "online")
        let assets = try await c.publicCall("Assets", query: [("asset", "XBT,ZUSD")])
        #expect(assets.result["XXBT"]?["decimals"]?.numberText == "10" && assets.result["ZUSD"]?["altname"]?.stringValue == "USD")
        let pairs = try await c.publicCall("AssetPairs", query: [("pair", "XBTUSD")])
        #expect(pairs.result["XXBTZUSD"]?["base"]?.stringValue == "XXBT" && pairs.result["XXBTZUSD"]?["wsname"]?.stringValue == "XBT/USD")
        #expect(await TestSim.errors { try await c.publicCall("AssetPairs", query: [("pair", "NOPE")]) } == ["EQuery:Unknown asset pair"])
        await sim.stop()
    }
}
