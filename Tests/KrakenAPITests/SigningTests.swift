import AuditKernel
import Foundation
import Testing

@testable import KrakenAPI

/// Vectors from ../shared/kraken-api.md §1.6 (V1 is Kraken's published one).
@Suite struct SigningTests {
    let secret = Secret("kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg==")

    func sign(_ path: String, _ nonce: UInt64, _ body: String) throws -> String {
        try RequestSigner(secret: secret).sign(path: path, nonce: nonce, body: Array(body.utf8))
    }

    @Test func krakenPublishedVector() throws {
        let body = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
        #expect(Crypto.sha256Hex(Array(("1616492376594" + body).utf8)) == "23a1c1b34c6a11d641af0f24684896cb90f66fb991125c83dc357bdc3dc146f1")
        #expect(try sign("/0/private/AddOrder", 1_616_492_376_594, body)
            == "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==")
    }

    @Test func tradesHistoryVector() throws {
        #expect(try sign("/0/private/TradesHistory", 1_700_000_000_000,
            "nonce=1700000000000&type=all&trades=false&start=1688169600&end=1690848000&ofs=50")
            == "9Ylf6AR0YILdP4fTnx3dN8pd+aPb/QTlOZlT82vgM8jdmQVjizY+K3RRXUbovw4EY+hSxQS5wpWGyA8g5pSW4w==")
    }

    @Test func encodingChangesTheSignature() throws {
        let escaped = "nonce=1700000000001&asset=XXBT%2CZUSD&type=trade&start=1688169600&end=1690848000&ofs=0"
        #expect(try sign("/0/private/Ledgers", 1_700_000_000_001, escaped)
            == "9QTEe/viYKg52a8rltH44gwnTY7+bvGi7dg0BBsDwc0QAXA6htFkW3mJN4TcY6G+0dZGNiZX4gW4QTc5GEXFgQ==")
        #expect(try sign("/0/private/Ledgers", 1_700_000_000_001, escaped.replacingOccurrences(of: "%2C", with: ","))
            == "xTK/4+R9U+us6agcQunBt87lxNd9ioNcam0Vu+80Geg5aoM2vHfZZCynE75FkdWkspR6FQvF3ttzlO0RwlUYyQ==")
    }

    @Test func jsonBodyVector() throws {
        let body = #"{"nonce":1700000000002,"asset":"XXBT,ZUSD","type":"trade","start":1688169600,"end":1690848000,"ofs":0}"#
        #expect(try sign("/0/private/Ledgers", 1_700_000_000_002, body)
            == "VIeUjplDnK2gtSzpf4w9HziRGvwD8bqLipAvXIP6Ei3tnM+hUO+uWMfjI6qigrp3Sgu5phHOWHVJtmZl3iAgmg==")
    }

    @Test func signedRequestBuildsTheV3Body() throws {
        let req = SignedRequest(
            method: "Ledgers", nonce: 1_700_000_000_001,
            parameters: [("asset", "XXBT,ZUSD"), ("type", "trade"), ("start", "1688169600"), ("end", "1690848000"), ("ofs", "0")],
            signer: try RequestSigner(secret: secret))
        #expect(String(decoding: req.body, as: UTF8.self)
            == "nonce=1700000000001&asset=XXBT%2CZUSD&type=trade&start=1688169600&end=1690848000&ofs=0")
        #expect(req.signature == "9QTEe/viYKg52a8rltH44gwnTY7+bvGi7dg0BBsDwc0QAXA6htFkW3mJN4TcY6G+0dZGNiZX4gW4QTc5GEXFgQ==")
    }

    @Test func secretThatIsNotBase64IsAConfigurationError() {
        #expect(throws: SigningError.secretNotBase64) { try RequestSigner(secret: Secret("not base64 !!")) }
        #expect(throws: SigningError.secretNotBase64) { try RequestSigner(secret: Secret("")) }
    }

    @Test func formEscaping() {
        #expect(FormEncoding.escape("a+b&c=d e,f") == "a%2Bb%26c%3Dd%20e%2Cf")
        #expect(FormEncoding.escape("Zürich €") == "Z%C3%BCrich%20%E2%82%AC")
        #expect(FormEncoding.escape("AZaz09-._~") == "AZaz09-._~")
        let pairs = [("k y", "v+1&x=2"), ("ü", "€ ,")]
        let decoded = FormEncoding.decode(FormEncoding.encode(pairs))
        #expect(decoded?.map { $0.0 } == ["k y", "ü"])
        #expect(decoded?.map { $0.1 } == ["v+1&x=2", "€ ,"])
        #expect(FormEncoding.decode("a=%zz") == nil)
    }
}

/// Records the request it is given and answers with a canned response.
final class CapturingTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var _requests: [TransportRequest] = []
    let response: @Sendable (TransportRequest) throws -> TransportResponse

    init(_ response: @escaping @Sendable (TransportRequest) throws -> TransportResponse) { self.response = response }

    var requests: [TransportRequest] { lock.withLock { _requests } }

    func send(_ request: TransportRequest) async throws -> TransportResponse {
        lock.withLock { _requests.append(request) }
        return try response(request)
    }
}

actor CountingNonces: NonceSource {
    var value: UInt64
    init(start: UInt64) { value = start }
    func nextNonce() async throws -> UInt64 {
        value += 1
        return value
    }
}

@Suite struct ClientTests {
    static let secretText = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="

    func client(_ transport: CapturingTransport, otp: String? = nil) throws -> KrakenClient {
        try KrakenClient(
            baseURL: "http://127.0.0.1:9", credentials: KrakenCredentials(apiKey: "PUBKEY", secret: Secret(Self.secretText), otp: otp.map(Secret.init)),
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
        #expect(body == "nonce=1700000000001&asset=XXBT%2CZUSD&note=a%2Bb%26c%3Dd%20e&label=Gr%C3%BC%C3%9Fe%20%E2%9C%93&otp=pass%20word%2B1")
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

@Suite struct SecretTests {
    @Test func neverPrintsItself() {
        let value = "SuperSecretValue-4242"
        let s = Secret(value)
        #expect("\(s)" == "<redacted>")
        #expect(String(describing: s) == "<redacted>")
        #expect(String(reflecting: s) == "Secret(<redacted>)")
        var dumped = ""
        dump(s, to: &dumped)
        #expect(!dumped.contains(value))
        #expect(s.unsafeStringValue() == value)
        let creds = KrakenCredentials(apiKey: "k", secret: s)
        var dumpedCreds = ""
        dump(creds, to: &dumpedCreds)
        #expect(!dumpedCreds.contains(value))
    }

    @Test func equalityIsByValue() {
        #expect(Secret("abc") == Secret("abc"))
        #expect(Secret("abc") != Secret("abd"))
    }

    @Test func fingerprintIsStableAndShort() {
        let f = KrakenCredentials.fingerprint(of: "PUBLICKEY")
        #expect(f.hasPrefix("sha256:"))
        #expect(f.count == 23)
        #expect(f == KrakenCredentials.fingerprint(of: "PUBLICKEY"))
    }
}

@Suite struct ErrorStringTests {
    @Test func classification() {
        let cases: [(String, KrakenErrorString.Kind)] = [
            ("EAPI:Invalid key", .invalidKey), ("EAPI:Invalid signature", .invalidSignature),
            ("EAPI:Invalid nonce", .invalidNonce), ("EAPI:Rate limit exceeded", .rateLimited),
            ("EGeneral:Permission denied", .permissionDenied), ("EGeneral:Temporary lockout", .temporaryLockout),
            ("EService:Unavailable", .transient), ("EService:Busy", .transient),
            ("EService: Throttled: 1700000000", .throttled), ("EGeneral:Invalid arguments:ofs", .invalidArguments),
            ("EGeneral:Unknown method", .unknownMethod), ("EGeneral:Internal error:42", .transient),
            ("WGeneral:Danger", .warning), ("EFoo:Bar", .other),
        ]
        for (raw, kind) in cases { #expect(KrakenErrorString(raw).kind == kind, "\(raw)") }
        #expect(KrakenErrorString("EService:Throttled: 1700000000").throttledUntil == Date(timeIntervalSince1970: 1_700_000_000))
    }
}
