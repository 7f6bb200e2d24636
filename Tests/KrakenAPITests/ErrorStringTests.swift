import AuditKernel
import Foundation
import Testing

@testable import KrakenAPI

/// Kraken's error strings sorted into kinds (../shared/kraken-api.md).
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
