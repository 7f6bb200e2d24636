import AuditKernel
import COpenSSL
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
///
/// Secret material in memory (issue 14): the decoded key is decoded straight into a zeroing ``Secret`` (no
/// `Data` copy), and the `nonce + body` buffer hashed for each signature (it contains the OTP when one is
/// configured) is zeroed after hashing. What stays outside zeroing storage, honestly: OpenSSL's HMAC context
/// (OpenSSL cleanses it itself), and the request body that must go on the wire (see ``SignedRequest``).
/// Core dumps, which would write all of this to disk, are disabled at process start (``ProcessHardening``).
public struct RequestSigner: Sendable {
    private let key: Secret

    /// Decodes the base64 secret once, straight into a ``Secret``.
    public init(secret: Secret) throws(SigningError) {
        let decoded: Secret? = secret.withBytes { encoded in
            try? Secret(capacity: encoded.count / 4 * 3) { out throws(SigningError) -> Int in
                guard let n = Base64.decode(encoded, into: out) else { throw .secretNotBase64 }
                return n
            }
        }
        guard let decoded, !decoded.isEmpty else { throw .secretNotBase64 }
        key = decoded
    }

    /// Signs `body` (the exact bytes sent) for `path` (e.g. `/0/private/Ledgers`) and decimal `nonce`.
    public func sign(path: String, nonce: UInt64, body: [UInt8]) -> String {
        var inner = Array(String(nonce).utf8)
        inner.append(contentsOf: body)
        var message = Array(path.utf8)
        message.append(contentsOf: Crypto.sha256(inner))
        // `inner` is uniquely owned here (no copy-on-write), so this zeroes the only copy of it.
        inner.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) }
        let mac = key.withBytes { Crypto.hmacSHA512(key: $0, message: message) }
        return Data(mac).base64EncodedString()
    }
}

/// A private request ready to send: the body bytes are final and the signature covers exactly them.
///
/// The OTP (when configured) is percent-encoded from its ``Secret`` straight into ``body`` without an
/// intermediate `String` (Swift strings cannot be zeroed). ``body`` itself cannot be zeroed by this type:
/// it is handed to the transport, and URLSession/libcurl keep their own copies until the request is done.
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
        var body = Array(FormEncoding.encode(pairs).utf8)
        if let otp {
            // Room for the worst case first: a reallocation mid-append would free a buffer holding part of the OTP.
            body.reserveCapacity(body.count + 5 + otp.count * 3)
            body.append(contentsOf: Array("&otp=".utf8))
            otp.withBytes { FormEncoding.escape($0, into: &body) }
        }
        self.path = "/0/private/\(method)"
        self.nonce = nonce
        self.body = body
        self.signature = signer.sign(path: path, nonce: nonce, body: body)
    }
}

/// RFC 4648 base64 (standard alphabet, `=` padding required), decoding into caller-owned memory so a decoded
/// secret never passes through `Data`. Like `Data(base64Encoded:)`, it also accepts up to three surplus `=`
/// at the end (`QUJD=`), so a secret pasted with an extra `=` keeps working. Unlike it, an `=` inside the text
/// (Foundation skips it) or a whole group of `=` (Foundation reads `====` as one zero byte) is refused: no
/// real Kraken secret looks like that.
enum Base64 {
    /// Decodes `input` into `output` (at least `input.count / 4 * 3` bytes); returns the byte count, or `nil`
    /// if `input` is not base64 (bad character, bad length, misplaced padding).
    static func decode(_ whole: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<UInt8>) -> Int? {
        var count = whole.count
        var surplus = count % 4
        while surplus > 0, count > 0, whole[count - 1] == UInt8(ascii: "=") {
            count -= 1
            surplus -= 1
        }
        let input = UnsafeBufferPointer(rebasing: whole[0..<count])
        guard input.count % 4 == 0, output.count >= input.count / 4 * 3 else { return nil }
        var n = 0
        var i = 0
        while i < input.count {
            let last = i + 4 == input.count
            var quad: UInt32 = 0
            var padding = 0
            for j in 0..<4 {
                let c = input[i + j]
                let v: UInt32
                switch c {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
                case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
                case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
                case UInt8(ascii: "+"): v = 62
                case UInt8(ascii: "/"): v = 63
                case UInt8(ascii: "="):
                    // Only in the last group, only in its last one or two places.
                    guard last, j >= 2 else { return nil }
                    padding += 1
                    v = 0
                default: return nil
                }
                if padding > 0 && c != UInt8(ascii: "=") { return nil }  // data after padding
                quad = quad << 6 | v
            }
            output[n] = UInt8(truncatingIfNeeded: quad >> 16)
            if padding < 2 { output[n + 1] = UInt8(truncatingIfNeeded: quad >> 8) }
            if padding < 1 { output[n + 2] = UInt8(truncatingIfNeeded: quad) }
            n += 3 - padding
            i += 4
        }
        return n
    }
}
