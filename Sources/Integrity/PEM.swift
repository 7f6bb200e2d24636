import Foundation

/// The two DER structures an Ed25519 key file holds, written the way `openssl pkey` writes them (RFC 8410).
///
/// Writing needs no libcrypto call: both encodings are a fixed prefix and the 32 key bytes, so producing them
/// cannot fail. Reading goes through libcrypto (``EVPKey/parsePEM(_:source:read:)``), which also accepts the
/// other valid forms (e.g. a PKCS#8 v2 file carrying the public key).
enum PEM {
    /// PKCS#8 `PrivateKeyInfo` for Ed25519 up to the seed: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 },
    /// OCTET STRING { OCTET STRING (32) } }.
    static let privatePrefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
    /// `SubjectPublicKeyInfo` for Ed25519 up to the key: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (0 unused bits) }.
    static let publicPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]

    /// `-----BEGIN label-----`, the base64 of `der` in lines of 64 characters, `-----END label-----`, each line
    /// ended by a newline.
    static func encode(_ der: [UInt8], label: String) -> String {
        let base64 = Data(der).base64EncodedString()
        var lines = ["-----BEGIN \(label)-----"]
        var rest = Substring(base64)
        while !rest.isEmpty {
            lines.append(String(rest.prefix(64)))
            rest = rest.dropFirst(64)
        }
        lines.append("-----END \(label)-----")
        return lines.map { $0 + "\n" }.joined()
    }
}
