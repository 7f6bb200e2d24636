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
        #expect(
            Crypto.sha256Hex(Array(("1616492376594" + body).utf8)) == "23a1c1b34c6a11d641af0f24684896cb90f66fb991125c83dc357bdc3dc146f1")
        #expect(
            try sign("/0/private/AddOrder", 1_616_492_376_594, body)
                == "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==")
    }

    @Test func tradesHistoryVector() throws {
        #expect(
            try sign(
                "/0/private/TradesHistory", 1_700_000_000_000,
                "nonce=1700000000000&type=all&trades=false&start=1688169600&end=1690848000&ofs=50")
                == "9Ylf6AR0YILdP4fTnx3dN8pd+aPb/QTlOZlT82vgM8jdmQVjizY+K3RRXUbovw4EY+hSxQS5wpWGyA8g5pSW4w==")
    }

    @Test func encodingChangesTheSignature() throws {
        let escaped = "nonce=1700000000001&asset=XXBT%2CZUSD&type=trade&start=1688169600&end=1690848000&ofs=0"
        #expect(
            try sign("/0/private/Ledgers", 1_700_000_000_001, escaped)
                == "9QTEe/viYKg52a8rltH44gwnTY7+bvGi7dg0BBsDwc0QAXA6htFkW3mJN4TcY6G+0dZGNiZX4gW4QTc5GEXFgQ==")
        #expect(
            try sign("/0/private/Ledgers", 1_700_000_000_001, escaped.replacingOccurrences(of: "%2C", with: ","))
                == "xTK/4+R9U+us6agcQunBt87lxNd9ioNcam0Vu+80Geg5aoM2vHfZZCynE75FkdWkspR6FQvF3ttzlO0RwlUYyQ==")
    }

    @Test func jsonBodyVector() throws {
        let body = #"{"nonce":1700000000002,"asset":"XXBT,ZUSD","type":"trade","start":1688169600,"end":1690848000,"ofs":0}"#
        #expect(
            try sign("/0/private/Ledgers", 1_700_000_000_002, body)
                == "VIeUjplDnK2gtSzpf4w9HziRGvwD8bqLipAvXIP6Ei3tnM+hUO+uWMfjI6qigrp3Sgu5phHOWHVJtmZl3iAgmg==")
    }

    @Test func signedRequestBuildsTheV3Body() throws {
        let req = SignedRequest(
            method: "Ledgers", nonce: 1_700_000_000_001,
            parameters: [("asset", "XXBT,ZUSD"), ("type", "trade"), ("start", "1688169600"), ("end", "1690848000"), ("ofs", "0")],
            signer: try RequestSigner(secret: secret))
        #expect(
            String(decoding: req.body, as: UTF8.self)
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
