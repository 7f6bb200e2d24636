import AuditKernel
import Foundation
import KrakenAPI

/// A ``DigestDocument`` with its Ed25519 signature, and its file form.
///
/// The file (`fileBytes()`) is the canonical JSON (``CanonicalJSON``) of
/// `{"digest": <document>, "format": "kraken-audit-digest-file/1", "signature": "<base64>"}` and a newline. The
/// signature covers the canonical JSON of the document alone (``signedBytes``). Parsing is strict: the file must
/// be exactly what ``fileBytes()`` writes, so re-formatting or any edit is reported, not tolerated.
public struct SignedDigest: Sendable, Equatable {
    /// The file format this version writes and reads.
    public static let fileFormat = "kraken-audit-digest-file/1"

    /// What is signed.
    public var document: DigestDocument
    /// The Ed25519 signature (64 bytes) of ``signedBytes``.
    public var signature: [UInt8]

    /// A digest from its parts (no check: see ``isValid(publicKey:)``).
    public init(document: DigestDocument, signature: [UInt8]) {
        self.document = document
        self.signature = signature
    }

    /// The canonical JSON bytes of ``document``: what the signature covers.
    public var signedBytes: [UInt8] { CanonicalJSON.encode(document.jsonValue) }

    /// Lower-case hex SHA-256 of ``signedBytes``: what the next digest names as its previous one.
    public var digestHash: String { Crypto.sha256Hex(signedBytes) }

    /// Signs `document` with `key` after checking it (``DigestDocument/validate()``) and that it names `key`'s
    /// fingerprint.
    public static func sign(_ document: DigestDocument, with key: Ed25519PrivateKey) throws(IntegrityError) -> SignedDigest {
        try document.validate()
        let fingerprint = key.publicKey.fingerprint
        guard document.publicKeyFingerprint == fingerprint else {
            throw .fingerprintMismatch(document: document.publicKeyFingerprint, key: fingerprint)
        }
        let digest = SignedDigest(document: document, signature: [])
        return SignedDigest(document: document, signature: try key.sign(digest.signedBytes))
    }

    /// Whether the signature is `publicKey`'s over ``signedBytes`` and the document names that key.
    public func isValid(publicKey: Ed25519PublicKey) -> Bool {
        document.publicKeyFingerprint == publicKey.fingerprint && publicKey.isValidSignature(signature, for: signedBytes)
    }

    /// The file's bytes: canonical JSON and a newline.
    public func fileBytes() -> [UInt8] {
        let file = JSONValue.object([
            ("digest", document.jsonValue), ("format", .string(Self.fileFormat)),
            ("signature", .string(Data(signature).base64EncodedString())),
        ])
        return CanonicalJSON.encode(file) + [0x0A]
    }

    /// Reads a digest file. Refused, with the reason: not JSON; another file format; unknown, missing, repeated
    /// or mistyped members; a document ``DigestDocument/validate()`` refuses; a signature that is not canonical
    /// base64 of 64 bytes; bytes that are not exactly what ``fileBytes()`` writes for the parsed digest (the file
    /// was edited or re-formatted). The signature itself is not checked here (``isValid(publicKey:)``).
    public static func parse(fileBytes bytes: [UInt8]) throws(IntegrityError) -> SignedDigest {
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch { throw .malformedDigest(path: nil, reason: "not JSON: \(error)") }
        if case .object(let members) = json, let format = members.first(where: { $0.0 == "format" })?.1,
            format != .string(fileFormat)
        {
            throw .malformedDigest(
                path: nil, reason: "file format \(format.jsonText) is not \"\(fileFormat)\"; this version reads that only")
        }
        let fields = try DigestFields(json, at: "", names: ["digest", "format", "signature"])
        let base64 = try fields.string("signature")
        guard let decoded = Data(base64Encoded: base64), decoded.base64EncodedString() == base64 else {
            throw .malformedDigest(path: nil, reason: "signature is not base64")
        }
        guard decoded.count == 64 else {
            throw .malformedDigest(path: nil, reason: "signature has \(decoded.count) bytes; an Ed25519 signature has 64")
        }
        let digest = SignedDigest(document: try DigestDocument(json: fields.value("digest"), at: "digest"), signature: [UInt8](decoded))
        guard digest.fileBytes() == bytes else {
            throw .malformedDigest(
                path: nil,
                reason: "the file is not in the canonical form kraken-audit writes: it was edited or re-formatted after it was written")
        }
        return digest
    }

    /// CloudTrail-style: `kraken-audit_Digest_<system id>_<database>_<sequence, 10 digits>_<YYYYMMDDTHHMMSSZ>.json`.
    /// Characters of the database name other than letters, digits, `-`, `_` and `.` are written as `%XX`.
    public var fileName: String {
        let (system, name) = Self.databaseParts(document.database)
        let t = DigestDocument.timeParts(document.createdAt) ?? ["0000", "00", "00", "00", "00", "00"]
        let sequence = String(document.sequence)
        let padded = String(repeating: "0", count: max(0, 10 - sequence.count)) + sequence
        return "kraken-audit_Digest_\(system)_\(name)_\(padded)_\(t[0])\(t[1])\(t[2])T\(t[3])\(t[4])\(t[5])Z.json"
    }

    /// Where the file goes below `[integrity] digest_dir`: `<system id>_<database>/YYYY/MM/DD/` + ``fileName``.
    public var relativePath: String {
        let (system, name) = Self.databaseParts(document.database)
        let t = DigestDocument.timeParts(document.createdAt) ?? ["0000", "00", "00"]
        return "\(system)_\(name)/\(t[0])/\(t[1])/\(t[2])/" + fileName
    }

    /// The system identifier and the file-name-safe database name.
    static func databaseParts(_ database: String) -> (String, String) {
        let (system, name) = DigestDocument.split(database) ?? ("0", database)
        var safe = ""
        for byte in name.utf8 {
            let isSafe =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D
                || byte == 0x5F || (byte == 0x2E && !safe.isEmpty)
            safe += isSafe ? String(UnicodeScalar(byte)) : String(format: "%%%02X", byte)
        }
        return (system, safe)
    }
}
