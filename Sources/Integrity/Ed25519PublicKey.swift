import COpenSSL
import KrakenAPI

/// An Ed25519 public key (RFC 8032), held by libcrypto: verifies digest signatures.
public struct Ed25519PublicKey: Sendable, Equatable, CustomStringConvertible {
    let key: EVPKey

    init(key: EVPKey) { self.key = key }

    /// The key from its 32 raw bytes (RFC 8032's encoding).
    public init(rawRepresentation: [UInt8]) throws(IntegrityError) {
        key = try EVPKey.raw(rawRepresentation, isPrivate: false)
    }

    /// The key from a `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo) PEM block, as `openssl pkey -pubout`
    /// writes it.
    public init(pemRepresentation: String) throws(IntegrityError) {
        try self.init(pem: Array(pemRepresentation.utf8), source: "public key PEM text")
    }

    init(pem: [UInt8], source: String) throws(IntegrityError) {
        key = try EVPKey.parsePEM(pem, source: source) { PEM_read_bio_PUBKEY($0, nil, refusePassphrase, nil) }
    }

    /// The 32 raw bytes.
    public var rawRepresentation: [UInt8] { key.rawPublic }

    /// SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), byte for byte what `openssl pkey -pubout` writes.
    public var pemRepresentation: String { PEM.encode(PEM.publicPrefix + rawRepresentation, label: "PUBLIC KEY") }

    /// `ed25519:` and the first 16 hex digits of SHA-256 of the raw key: names the key in digests and messages.
    public var fingerprint: String { "ed25519:" + Crypto.sha256Hex(rawRepresentation).prefix(16) }

    public var description: String { fingerprint }

    /// Whether `signature` (64 bytes) is this key's Ed25519 signature of `message`.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        key.verify(signature, message: message)
    }

    public static func == (lhs: Ed25519PublicKey, rhs: Ed25519PublicKey) -> Bool {
        lhs.rawRepresentation == rhs.rawRepresentation
    }
}
