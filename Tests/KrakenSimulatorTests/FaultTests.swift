import Foundation
import KrakenAPI
import KrakenSimulator
import Testing

@Suite("Simulator faults")
struct FaultTests {
    static func failure(_ body: () async throws -> KrakenResponse) async -> KrakenError? {
        do {
            _ = try await body()
            return nil
        } catch let error as KrakenError {
            return error
        } catch {
            return .transport(method: "?", reason: "unexpected error \(error)")
        }
    }

    @Test(arguments: [(FaultKind.http500, 500), (.http502, 502), (.http504, 504), (.http520, 520)])
    func httpErrorPages(kind: FaultKind, status: Int) async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        await sim.state.addFault(FaultRule(kind: kind, count: 1))
        let error = await Self.failure { try await c.privateCall("Balance") }
        guard case .http(_, let s, let snippet) = error else {
            Issue.record("expected HTTP \(status), got \(String(describing: error))"); return
        }
        #expect(s == status)
        if status == 520 { #expect(snippet.contains("520")) }
        #expect(error?.isTransient == true)
        // The fault fired after processing: the nonce was used, the next call (fresh nonce) succeeds.
        #expect(await Self.failure { try await c.privateCall("Balance") } == nil)
        await sim.stop()
    }

    @Test func serviceErrors() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        _ = try await RawHTTP.control(sim, "/_sim/faults", method: "POST", json: #"{"kind":"service_unavailable","count":1}"#)
        #expect(await TestSim.errors { try await c.privateCall("Ledgers") } == ["EService:Unavailable"])
        await sim.state.addFault(FaultRule(kind: .serviceBusy, count: 1))
        let busy = await Self.failure { try await c.privateCall("Ledgers") }
        #expect(busy?.kind == .transient)
        #expect(await TestSim.errors { try await c.privateCall("Ledgers") } == [])
        await sim.stop()
    }

    @Test func truncatedAndMalformedJSON() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        for kind in [FaultKind.truncatedJSON, .malformedJSON] {
            await sim.state.addFault(FaultRule(kind: kind, count: 1))
            let e = await Self.failure { try await c.privateCall("Ledgers") }
            guard case .malformedResponse = e else { Issue.record("\(kind): \(String(describing: e))"); continue }
        }
        await sim.stop()
    }

    @Test func connectionReset() async throws {
        let sim = try await TestSim.start()
        let c = try TestSim.client(sim)
        await sim.state.addFault(FaultRule(kind: .connectionReset, count: 1))
        let e = await Self.failure { try await c.privateCall("Balance") }
        guard case .transport = e else { Issue.record("expected a transport error, got \(String(describing: e))"); return }
        #expect(await Self.failure { try await c.privateCall("Balance") } == nil)
        let log = await sim.state.requestLog()
        #expect(log.contains { $0.fault == "connection_reset" && $0.httpStatus == nil })
        await sim.stop()
    }

    @Test func slowResponsesPassTheClientTimeout() async throws {
        let sim = try await TestSim.start { $0.slowSeconds = 4 }
        let c = try TestSim.client(sim, timeout: 1)
        await sim.state.addFault(FaultRule(kind: .slow, count: 1))
        let e = await Self.failure { try await c.publicCall("Time") }
        guard case .transport(_, let reason) = e else { Issue.record("expected a timeout, got \(String(describing: e))"); return }
        #expect(reason.contains("timed out"))
        await sim.stop()
    }

    @Test func clockJumps() async throws {
        let sim = try await TestSim.start { $0.clockJumpSeconds = -7200 }
        let c = try TestSim.client(sim)
        let before = Int64(try await c.publicCall("Time").result["unixtime"]!.numberText!)!
        await sim.state.addFault(FaultRule(kind: .clockJump, count: 1))
        let after = Int64(try await c.publicCall("Time").result["unixtime"]!.numberText!)!
        #expect(abs((before - after) - 7200) <= 2)
        await sim.stop()
    }

    @Test func faultDecisionsAreSeeded() async throws {
        func outcomes(seed: UInt64) async throws -> [Bool] {
            let sim = try await TestSim.start {
                $0.faultSeed = seed; $0.faults = [FaultRule(kind: .serviceBusy, rate: 0.5)]
            }
            let c = try TestSim.client(sim)
            var out: [Bool] = []
            for _ in 0..<24 { out.append(await Self.failure { try await c.publicCall("Time") } == nil) }
            await sim.stop()
            return out
        }
        let a = try await outcomes(seed: 7)
        let b = try await outcomes(seed: 7)
        let d = try await outcomes(seed: 8)
        #expect(a == b)
        #expect(a != d)
        #expect(a.contains(true) && a.contains(false))
    }

    @Test func faultsFromTheCommandLineSyntax() throws {
        #expect(try FaultRule.parse("http_520=0.25") == FaultRule(kind: .http520, rate: 0.25))
        #expect(try FaultRule.parse("connection_reset:2") == FaultRule(kind: .connectionReset, rate: 1, count: 2))
        #expect(throws: SimulatorError.self) { try FaultRule.parse("nope=1") }
        #expect(throws: SimulatorError.self) { try FaultRule.parse("slow=2") }
    }

    @Test func faultSwitchesOverHTTP() async throws {
        let sim = try await TestSim.start()
        _ = try await RawHTTP.control(sim, "/_sim/faults", method: "POST", json: #"{"kind":"http_502","rate":0.1,"methods":["Ledgers"]}"#)
        let list = try await RawHTTP.control(sim, "/_sim/faults")
        #expect(list.arrayValue?.first?["kind"]?.stringValue == "http_502")
        let cleared = try await RawHTTP.control(sim, "/_sim/faults", method: "DELETE")
        #expect(cleared.arrayValue?.isEmpty == true)
        await sim.stop()
    }
}
