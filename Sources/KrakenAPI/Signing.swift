import Foundation

/// Errors raised while preparing a signed request.
public enum SigningError: Error, CustomStringConvertible, Equatable {
    /// The API secret is not valid base64 (Kraken secrets are base64 of 64 random bytes).
    case secretNotBase64

    public var description: String {
        switch self {
        case .secretNotBase64:
            return "the API secret is not valid base64: copy it again from Kraken's API key page (it ends in '==')"
        }
    }
}

/// Kraken's `API-Sign` algorithm (../shared/kraken-api.md §1.2):
/// `base64(HMAC-SHA512(base64decode(secret), path + SHA256(nonce + body)))`.
public struct RequestSigner: Sendable {
    private let key: Secret

    /// Decodes the base64 secret once; the decoded key is itself held in a ``Secret``.
    public init(secret: Secret) throws(SigningError) {
        let decoded: Data? = secret.withBytes { Data(base64Encoded: Data($0)) }
        guard var decoded, !decoded.isEmpty else { throw .secretNotBase64 }
        key = Secret(bytes: decoded)
        decoded.resetBytes(in: 0..<decoded.count)
    }

    /// Signs `body` (the exact bytes sent) for `path` (e.g. `/0/private/Ledgers`) and decimal `nonce`.
    public func sign(path: String, nonce: UInt64, body: [UInt8]) -> String {
        var inner = Array(String(nonce).utf8)
        inner.append(contentsOf: body)
        var message = Array(path.utf8)
        message.append(contentsOf: Crypto.sha256(inner))
        let mac = key.withBytes { Crypto.hmacSHA512(key: $0, message: message) }
        return Data(mac).base64EncodedString()
    }
}

/// A private request ready to send: the body bytes are final and the signature covers exactly them.
public struct SignedRequest: Sendable {
    /// Path such as `/0/private/Ledgers`.
    public let path: String
    /// The nonce inside the body.
    public let nonce: UInt64
    /// Exact body bytes (form-encoded).
    public let body: [UInt8]
    /// `API-Sign` header value.
    public let signature: String

    /// Builds the form body (`nonce` first, then `parameters` in order, then `otp` if any) and signs it.
    public init(
        method: String, nonce: UInt64, parameters: [(String, String)], otp: Secret? = nil,
        signer: RequestSigner
    ) {
        var pairs = [("nonce", String(nonce))]
        pairs.append(contentsOf: parameters)
        if let otp { pairs.append(("otp", otp.unsafeStringValue())) }
        self.path = "/0/private/\(method)"
        self.nonce = nonce
        self.body = Array(FormEncoding.encode(pairs).utf8)
        self.signature = signer.sign(path: path, nonce: nonce, body: body)
    }
}
