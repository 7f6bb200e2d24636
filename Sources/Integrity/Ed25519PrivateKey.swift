import COpenSSL

/// An Ed25519 private key (RFC 8032), held by libcrypto: signs digests. Its `description` shows only the public
/// key's fingerprint, so a key that reaches a log or an error message does not leak.
public struct Ed25519PrivateKey: Sendable, CustomStringConvertible {
    let key: EVPKey

    /// A new key from 32 bytes of libcrypto's private random generator.
    public static func generate() throws(IntegrityError) -> Ed25519PrivateKey {
        var seed = [UInt8](repeating: 0, count: 32)
        defer { for i in seed.indices { seed[i] = 0 } }
        guard RAND_priv_bytes(&seed, Int32(seed.count)) == 1 else {
            throw .crypto(operation: "draw random bytes for a key", reason: OpenSSLErrors.drain())
        }
        return try Ed25519PrivateKey(rawRepresentation: seed)
    }

    /// The key from its 32-byte secret seed (RFC 8032's "SECRET KEY").
    public init(rawRepresentation: [UInt8]) throws(IntegrityError) {
        key = try EVPKey.raw(rawRepresentation, isPrivate: true)
    }

    /// The key from a PEM private key, as `openssl genpkey -algorithm ed25519` writes it (`-----BEGIN PRIVATE
    /// KEY-----`, PKCS#8). Encrypted keys are refused: kraken-audit runs unattended and cannot ask for a passphrase.
    public init(pemRepresentation: String) throws(IntegrityError) {
        try self.init(pem: Array(pemRepresentation.utf8), source: "private key PEM text")
    }

    init(pem: [UInt8], source: String) throws(IntegrityError) {
        key = try EVPKey.parsePEM(pem, source: source) { PEM_read_bio_PrivateKey($0, nil, refusePassphrase, nil) }
    }

    /// The 32-byte secret seed.
    public var rawRepresentation: [UInt8] { key.rawPrivate }

    /// The matching public key.
    public var publicKey: Ed25519PublicKey {
        // Cannot throw: the 32 bytes come from a valid key.
        (try? Ed25519PublicKey(rawRepresentation: key.rawPublic)) ?? Ed25519PublicKey(key: key)
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), byte for byte what `openssl pkey` writes.
    public var pemRepresentation: String { String(decoding: pemBytes(), as: UTF8.self) }

    /// ``pemRepresentation`` as bytes the caller can wipe after use.
    func pemBytes() -> [UInt8] {
        var seed = rawRepresentation
        defer { for i in seed.indices { seed[i] = 0 } }
        return Array(PEM.encode(PEM.privatePrefix + seed, label: "PRIVATE KEY").utf8)
    }

    /// The 64-byte Ed25519 signature of `message`.
    public func sign(_ message: [UInt8]) throws(IntegrityError) -> [UInt8] {
        try key.sign(message)
    }

    public var description: String { "Ed25519PrivateKey(\(publicKey.fingerprint))" }
}
