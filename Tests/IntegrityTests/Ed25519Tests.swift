import Foundation
import Integrity
import Testing

/// Ed25519 through libcrypto: RFC 8032 §7.1 vectors and interoperability with the `openssl` command line tool.
@Suite struct Ed25519Tests {
    /// RFC 8032 §7.1 TEST 1 (empty message) and TEST 2 (one byte, 0x72).
    static let vectors: [(secret: String, publicKey: String, message: String, signature: String)] = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        ),
    ]

    @Test(arguments: 0..<2)
    func rfc8032Vectors(index: Int) throws {
        let v = Self.vectors[index]
        let key = try Ed25519PrivateKey(rawRepresentation: bytes(hex: v.secret))
        #expect(hex(key.rawRepresentation) == v.secret)
        #expect(hex(key.publicKey.rawRepresentation) == v.publicKey)
        let signature = try key.sign(bytes(hex: v.message))
        #expect(hex(signature) == v.signature)
        let publicKey = try Ed25519PublicKey(rawRepresentation: bytes(hex: v.publicKey))
        #expect(publicKey == key.publicKey)
        #expect(publicKey.isValidSignature(bytes(hex: v.signature), for: bytes(hex: v.message)))
        // One flipped bit in the message or the signature, or a truncated signature, does not verify.
        #expect(!publicKey.isValidSignature(bytes(hex: v.signature), for: bytes(hex: v.message) + [0]))
        var flipped = bytes(hex: v.signature)
        flipped[10] ^= 0x01
        #expect(!publicKey.isValidSignature(flipped, for: bytes(hex: v.message)))
        #expect(!publicKey.isValidSignature(Array(bytes(hex: v.signature).prefix(63)), for: bytes(hex: v.message)))
    }

    @Test func fingerprintIsSHA256OfTheRawPublicKey() throws {
        let key = try Ed25519PublicKey(rawRepresentation: bytes(hex: Self.vectors[0].publicKey))
        // sha256(d75a98…511a) = 21fe31df…; the first 16 hex digits.
        let (status, output) = try withTemporaryDirectory { dir in
            let path = dir + "/pub.raw"
            try Data(key.rawRepresentation).write(to: URL(fileURLWithPath: path))
            return try openssl(["dgst", "-sha256", "-r", path])
        }
        #expect(status == 0, "\(output)")
        #expect(key.fingerprint == "ed25519:" + output.prefix(16))
        #expect(key.fingerprint.count == 24)
    }

    @Test func generatedKeysDifferAndSignTheirMessages() throws {
        let a = try Ed25519PrivateKey.generate()
        let b = try Ed25519PrivateKey.generate()
        #expect(a.rawRepresentation != b.rawRepresentation)
        #expect(a.rawRepresentation.count == 32)
        let message = Array("the digest".utf8)
        let signature = try a.sign(message)
        #expect(signature.count == 64)
        #expect(a.publicKey.isValidSignature(signature, for: message))
        #expect(!b.publicKey.isValidSignature(signature, for: message))
        // The private key's description shows only the public fingerprint.
        #expect("\(a)" == "Ed25519PrivateKey(\(a.publicKey.fingerprint))")
    }

    @Test func rawKeysOfTheWrongLengthAreRefused() {
        #expect(throws: IntegrityError.self) { try Ed25519PrivateKey(rawRepresentation: [UInt8](repeating: 1, count: 31)) }
        #expect(throws: IntegrityError.self) { try Ed25519PublicKey(rawRepresentation: [UInt8](repeating: 1, count: 33)) }
    }

    @Test func pemRoundTripsAndMatchesTheRFC8410Layout() throws {
        let key = try Ed25519PrivateKey(rawRepresentation: bytes(hex: Self.vectors[0].secret))
        #expect(key.pemRepresentation.hasPrefix("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI"))
        #expect(key.publicKey.pemRepresentation.hasPrefix("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"))
        let again = try Ed25519PrivateKey(pemRepresentation: key.pemRepresentation)
        #expect(again.rawRepresentation == key.rawRepresentation)
        #expect(try Ed25519PublicKey(pemRepresentation: key.publicKey.pemRepresentation) == key.publicKey)
        // A public PEM is not a private key and the other way round; garbage is neither.
        #expect(throws: IntegrityError.self) { try Ed25519PrivateKey(pemRepresentation: key.publicKey.pemRepresentation) }
        #expect(throws: IntegrityError.self) {
            try Ed25519PublicKey(pemRepresentation: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
        }
        #expect(throws: IntegrityError.self) { try Ed25519PrivateKey(pemRepresentation: "") }
    }

    /// `openssl pkey` reads our files and writes the same bytes back; keys openssl generates load here; a signature
    /// made here verifies with `openssl pkeyutl -verify -rawin` and one made by openssl verifies here.
    @Test func interoperatesWithTheOpenSSLCommandLine() throws {
        try withTemporaryDirectory { dir in
            let key = try Ed25519PrivateKey.generate()
            try key.write(to: dir + "/ours.pem")
            let privateOut = try openssl(["pkey", "-in", dir + "/ours.pem"])
            #expect(privateOut.status == 0, "\(privateOut.output)")
            #expect(privateOut.output == key.pemRepresentation)
            let publicOut = try openssl(["pkey", "-in", dir + "/ours.pem", "-pubout"])
            #expect(publicOut.output == key.publicKey.pemRepresentation)
            try key.publicKey.write(to: dir + "/ours.pub")

            let message = Array("kraken-audit digest \u{1F512}".utf8)
            try Data(message).write(to: URL(fileURLWithPath: dir + "/message"))
            try Data(key.sign(message)).write(to: URL(fileURLWithPath: dir + "/message.sig"))
            let verified = try openssl([
                "pkeyutl", "-verify", "-pubin", "-inkey", dir + "/ours.pub", "-rawin", "-in", dir + "/message", "-sigfile",
                dir + "/message.sig",
            ])
            #expect(verified.status == 0, "\(verified.output)")
            #expect(verified.output.contains("Signature Verified Successfully"))
            try Data(message + [0x21]).write(to: URL(fileURLWithPath: dir + "/altered"))
            let refused = try openssl([
                "pkeyutl", "-verify", "-pubin", "-inkey", dir + "/ours.pub", "-rawin", "-in", dir + "/altered", "-sigfile",
                dir + "/message.sig",
            ])
            #expect(refused.status != 0, "\(refused.output)")

            let generated = try openssl(["genpkey", "-algorithm", "ed25519", "-out", dir + "/theirs.pem"])
            #expect(generated.status == 0, "\(generated.output)")
            chmod(dir + "/theirs.pem", 0o600)
            let theirs = try Ed25519PrivateKey.load(path: dir + "/theirs.pem")
            _ = try openssl(["pkey", "-in", dir + "/theirs.pem", "-pubout", "-out", dir + "/theirs.pub"])
            #expect(try Ed25519PublicKey.load(path: dir + "/theirs.pub") == theirs.publicKey)
            let signedByOpenSSL = try openssl([
                "pkeyutl", "-sign", "-inkey", dir + "/theirs.pem", "-rawin", "-in", dir + "/message", "-out", dir + "/theirs.sig",
            ])
            #expect(signedByOpenSSL.status == 0, "\(signedByOpenSSL.output)")
            let signature = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/theirs.sig")))
            #expect(theirs.publicKey.isValidSignature(signature, for: message))
            #expect(signature == (try theirs.sign(message)))  // Ed25519 is deterministic
        }
    }

    @Test func anRSAKeyIsRefusedAsNotEd25519() throws {
        try withTemporaryDirectory { dir in
            let generated = try openssl(["genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024", "-out", dir + "/rsa.pem"])
            #expect(generated.status == 0, "\(generated.output)")
            chmod(dir + "/rsa.pem", 0o600)
            #expect {
                try Ed25519PrivateKey.load(path: dir + "/rsa.pem")
            } throws: { error in
                "\(error)".contains("another type") && "\(error)".contains(dir + "/rsa.pem")
            }
        }
    }

    @Test func anEncryptedKeyIsRefusedWithoutPrompting() throws {
        try withTemporaryDirectory { dir in
            _ = try openssl(["genpkey", "-algorithm", "ed25519", "-out", dir + "/plain.pem"])
            let encrypted = try openssl([
                "pkey", "-in", dir + "/plain.pem", "-aes-256-cbc", "-passout", "pass:secret", "-out", dir + "/encrypted.pem",
            ])
            #expect(encrypted.status == 0, "\(encrypted.output)")
            chmod(dir + "/encrypted.pem", 0o600)
            #expect(throws: IntegrityError.self) { try Ed25519PrivateKey.load(path: dir + "/encrypted.pem") }
        }
    }
}
