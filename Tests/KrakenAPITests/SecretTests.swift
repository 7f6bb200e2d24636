import AuditKernel
import Foundation
import Testing

@testable import KrakenAPI

/// `Secret` never prints itself; credentials' fingerprints are stable.
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
