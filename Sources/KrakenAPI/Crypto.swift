import COpenSSL
import Foundation

/// Thin wrappers over OpenSSL libcrypto (one-shot functions, see ../shared/swift-build-notes.md).
public enum Crypto {
    /// SHA-256 of `data` (32 bytes).
    public static func sha256<D: ContiguousBytes>(_ data: D) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        data.withUnsafeBytes { raw in
            _ = SHA256(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &out)
        }
        return out
    }

    /// Lower-case hex SHA-256 of `data`.
    public static func sha256Hex<D: ContiguousBytes>(_ data: D) -> String {
        hex(sha256(data))
    }

    /// HMAC-SHA512 of `message` keyed with `key` (64 bytes).
    public static func hmacSHA512(key: UnsafeBufferPointer<UInt8>, message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        message.withUnsafeBufferPointer { msg in
            _ = HMAC(EVP_sha512(), key.baseAddress, Int32(key.count), msg.baseAddress, msg.count, &out, &length)
        }
        return Array(out.prefix(Int(length)))
    }

    /// `count` cryptographically random bytes.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if RAND_bytes(&out, Int32(count)) != 1 {
            // RAND_bytes only fails when the OS entropy source is broken; fall back to the system RNG.
            var rng = SystemRandomNumberGenerator()
            for i in out.indices { out[i] = UInt8.random(in: .min ... .max, using: &rng) }
        }
        return out
    }

    /// Lower-case hex of `bytes`.
    public static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
