import AuditKernel
import Foundation
import Testing

@testable import KrakenAPI

/// The client over a recorded transport: the body signed is the body sent, a fresh nonce per call, Kraken's errors,
/// Cloudflare pages, malformed JSON and transport failures mapped to typed errors, and the base-URL rules.
@Suite struct ClientTests {
    static let secretText = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="

    func client(_ transport: CapturingTransport, otp: String? = nil) throws -> KrakenClient {
        try KrakenClient(
            baseURL: "http://127.0.0.1:9",
            credentials: KrakenCredentials(apiKey: "PUBKEY", secret: Secret(Self.secretText), otp: otp.map(Secret.init)),
            nonces: CountingNonces(start: 1_700_000_000_000), transport: transport, logger: .init(label: "test"))
    }

    static func ok(_ json: String) -> @Sendable (TransportRequest) -> TransportResponse {
        { _ in TransportResponse(status: 200, body: Array(json.utf8)) }
    }

    /// The signature must verify over exactly the bytes that went on the wire, with awkward characters.
    @Test func bodySignedIsBodySent() async throws {
        let transport = CapturingTransport(Self.ok(#"{"error":[],"result":{"ok":true}}"#))
        let params = [("asset", "XXBT,ZUSD"), ("note", "a+b&c=d e"), ("label", "Grüße ✓")]
        _ = try await client(transport, otp: "pass word+1").privateCall("Ledgers", parameters: params)
        let req = try #require(transport.requests.first)
        let headers = Dictionary(req.headers, uniquingKeysWith: { a, _ in a })
        let body = String(decoding: req.body, as: UTF8.self)
        #expect(
            body == "nonce=1700000000001&asset=XXBT%2CZUSD&note=a%2Bb%26c%3Dd%20e&label=Gr%C3%BC%C3%9Fe%20%E2%9C%93&otp=pass%20word%2B1")
        #expect(req.url.absoluteString == "http://127.0.0.1:9/0/private/Ledgers")
        // Independent recomputation: HMAC-SHA512(b64decode(secret), path + SHA256(nonce + sent body)).
        let key = [UInt8](Data(base64Encoded: Self.secretText)!)
        var inner = Array("1700000000001".utf8)
        inner += req.body
        let message = Array("/0/private/Ledgers".utf8) + Crypto.sha256(inner)
        let expected = key.withUnsafeBufferPointer { Data(Crypto.hmacSHA512(key: $0, message: message)).base64EncodedString() }
        #expect(headers["API-Sign"] == expected)
        #expect(headers["API-Key"] == "PUBKEY")
        let decoded = try #require(FormEncoding.decode(body))
        #expect(decoded.map { $0.1 } == ["1700000000001", "XXBT,ZUSD", "a+b&c=d e", "Grüße ✓", "pass word+1"])
    }

    @Test func freshNonceOnEveryCall() async throws {
        let transport = CapturingTransport(Self.ok(#"{"error":[],"result":{}}"#))
        let c = try client(transport)
        _ = try await c.privateCall("Balance")
        _ = try await c.privateCall("Balance")
        let nonces = transport.requests.map { String(decoding: $0.body, as: UTF8.self) }
        #expect(nonces == ["nonce=1700000000001", "nonce=1700000000002"])
    }

    @Test func krakenErrorsAreTyped() async throws {
        let transport = CapturingTransport(Self.ok(#"{"error":["EAPI:Invalid nonce"],"result":{}}"#))
        let error = await #expect(throws: KrakenError.self) { try await client(transport).privateCall("Ledgers") }
        #expect(error?.kind == .invalidNonce)
        #expect(error?.isTransient == false)
        #expect(error?.description.contains("EAPI:Invalid nonce") == true)
    }

    @Test func cloudflare520IsTransientWithTitle() async throws {
        let html = "<html><head><title>api.kraken.com | 520: Web server is returning an unknown error</title></head><body>...</body></html>"
        let transport = CapturingTransport { _ in TransportResponse(status: 520, body: Array(html.utf8)) }
        let error = await #expect(throws: KrakenError.self) { try await client(transport).privateCall("Ledgers") }
        #expect(error == .http(method: "Ledgers", status: 520, snippet: "api.kraken.com | 520: Web server is returning an unknown error"))
        #expect(error?.isTransient == true)
    }

    @Test func malformedAndTruncatedJSON() async throws {
        for body in [#"{"error":[],"result":{"ledger":{"#, "<html>", #"{"result":{}}"#, ""] {
            let transport = CapturingTransport(Self.ok(body))
            let error = await #expect(throws: KrakenError.self) { try await client(transport).privateCall("Ledgers") }
            guard case .malformedResponse = error else {
                Issue.record("expected malformedResponse for \(body), got \(String(describing: error))")
                continue
            }
        }
    }

    @Test func transportFailureIsTransient() async throws {
        struct Reset: Error {}
        let transport = CapturingTransport { _ in throw URLError(.networkConnectionLost) }
        let error = await #expect(throws: KrakenError.self) { try await client(transport).privateCall("Ledgers") }
        #expect(error == .transport(method: "Ledgers", reason: "connection reset"))
        #expect(error?.isTransient == true)
    }

    @Test func warningsDoNotFail() async throws {
        let transport = CapturingTransport(Self.ok(#"{"error":["WGeneral:Something"],"result":{"a":1}}"#))
        let r = try await client(transport).privateCall("Balance")
        #expect(r.warnings.map(\.raw) == ["WGeneral:Something"])
        #expect(r.result["a"]?.numberText == "1")
    }

    @Test func balanceWithoutResultIsNull() async throws {
        let transport = CapturingTransport(Self.ok(#"{"error":[]}"#))
        let r = try await client(transport).privateCall("Balance")
        #expect(r.result == .null)
    }

    @Test func plainHTTPOnlyToLoopback() {
        #expect(throws: KrakenError.self) { try BaseURL.validate("http://api.kraken.com") }
        #expect(throws: KrakenError.self) { try BaseURL.validate("http://10.0.0.1:8080") }
        #expect(throws: KrakenError.self) { try BaseURL.validate("ftp://127.0.0.1") }
        #expect(throws: KrakenError.self) { try BaseURL.validate("https://user:pw@api.kraken.com") }
        #expect((try? BaseURL.validate("http://127.0.0.1:8080")) != nil)
        #expect((try? BaseURL.validate("http://[::1]:8080")) != nil)
        #expect((try? BaseURL.validate("http://localhost:8080")) != nil)
        #expect((try? BaseURL.validate("https://api.kraken.com")) != nil)
    }
}
