import AuditKernel
import Foundation
import TestSupport
import Testing

@testable import KrakenAPI

/// Issue 14 item 12: the signer decodes the API secret straight into zeroing storage with its own base64
/// decoder, and percent-encodes the OTP from its `Secret` without a String. Both must give exactly the bytes
/// the Foundation path gave.
@Suite struct SecretDecodingTests {
    func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        var output = [UInt8](repeating: 0, count: input.count / 4 * 3 + 3)
        let n = input.withUnsafeBufferPointer { i in output.withUnsafeMutableBufferPointer { Base64.decode(i, into: $0) } }
        return n.map { Array(output.prefix($0)) }
    }

    @Test func decoderAgreesWithFoundation() {
        var rng = SplitMix(seed: 20_261_130)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ !\n.".utf8)
        for length in 0..<4000 {
            let bytes = (0..<length % 97).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let encoded = Data(bytes).base64EncodedString()
            #expect(decode(encoded) == bytes, "\(encoded)")
            // Damaged: one character replaced, one removed, one added.
            var chars = Array(encoded.utf8)
            if !chars.isEmpty {
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: chars[Int.random(in: 0..<chars.count, using: &rng)] = alphabet.randomElement(using: &rng)!
                case 1: chars.remove(at: Int.random(in: 0..<chars.count, using: &rng))
                default: chars.insert(alphabet.randomElement(using: &rng)!, at: Int.random(in: 0...chars.count, using: &rng))
                }
            }
            let damaged = String(decoding: chars, as: UTF8.self)
            if damaged.drop(while: { $0 != "=" }).contains(where: { $0 != "=" }) {
                // "=" inside the text: Foundation skips it ("ZQ=3" → "e7"); not base64, refused here.
                #expect(decode(damaged) == nil, "\(damaged)")
            } else {
                let foundation = Data(base64Encoded: damaged).map { Array($0) }
                #expect(decode(damaged) == foundation, "\(damaged)")
            }
        }
        #expect(decode("QQ==") == [0x41] && decode("QUI=") == [0x41, 0x42] && decode("QUJD") == [0x41, 0x42, 0x43])
        #expect(decode("QUJD=") == [0x41, 0x42, 0x43] && decode("QQ===") == [0x41])  // surplus padding, as Foundation
        for bad in ["Q", "QQ=", "Q===", "QQ==QQ==", "=QQQ", "QQ=Q", "QUJD\n"] { #expect(decode(bad) == nil, "\(bad)") }
        // Deliberately stricter than Foundation, which reads "====" as [0] and ignores a whole group of "=".
        for edge in ["====", "QUJD===="] { #expect(decode(edge) == nil, "\(edge)") }
    }

    @Test func signerKeepsKrakensVectorAndRejectsNonBase64() throws {
        let signer = try RequestSigner(
            secret: Secret("kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="))
        let body = "nonce=1616492376594&ordertype=limit&pair=XBTUSD&price=37500&type=buy&volume=1.25"
        #expect(
            signer.sign(path: "/0/private/AddOrder", nonce: 1_616_492_376_594, body: Array(body.utf8))
                == "4/dpxb3iT4tp/ZCVEwSnEsLxx0bqyhLpdfOpc6fn7OR8+UClSV5n9E6aSS8MPtnRfp32bAb0nmbRn6H8ndwLUQ==")
        for bad in ["kQH5HW/8p1uGOVjbgWA", "not base64 !!", "", "====", "kQH5HW/8p1u=GOVjbgWA7"] {
            #expect(throws: SigningError.secretNotBase64) { try RequestSigner(secret: Secret(bad)) }
        }
    }

    @Test func otpIsEncodedLikeEveryOtherFormValue() throws {
        let signer = try RequestSigner(secret: Secret(Data((0..<64).map { UInt8($0) }).base64EncodedString()))
        let otp = "a b+c/ü&=%~._-"
        let r = SignedRequest(method: "Ledgers", nonce: 7, parameters: [("ofs", "0")], otp: Secret(otp), signer: signer)
        let expected = FormEncoding.encode([("nonce", "7"), ("ofs", "0"), ("otp", otp)])
        #expect(String(decoding: r.body, as: UTF8.self) == expected)
        #expect(r.signature == signer.sign(path: "/0/private/Ledgers", nonce: 7, body: Array(expected.utf8)))
    }

    @Test func secretFillThatThrowsPropagates() {
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try Secret(capacity: 8) { (_: UnsafeMutableBufferPointer<UInt8>) throws(Boom) -> Int in throw Boom() }
        }
        let s = Secret(capacity: 4) { (b: UnsafeMutableBufferPointer<UInt8>) -> Int in
            b[0] = 1
            b[1] = 2
            return 2
        }
        #expect(s.withBytes { Array($0) } == [1, 2])
    }
}
