import COpenSSL

/// Owns one libcrypto `EVP_PKEY` (an Ed25519 key) and frees it with the last reference.
///
/// `@unchecked Sendable`: the key is never changed after it is created, and OpenSSL 3 allows one `EVP_PKEY` to be
/// used by several threads at once as long as each has its own `EVP_MD_CTX` (which ``sign(_:)`` and ``verify(_:message:)``
/// create per call).
final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// A key from 32 raw bytes (`isPrivate`: the RFC 8032 secret seed, else the public key).
    static func raw(_ bytes: [UInt8], isPrivate: Bool) throws(IntegrityError) -> EVPKey {
        guard bytes.count == 32 else {
            throw .invalidKey(source: "key bytes", reason: "an Ed25519 key has 32 bytes, not \(bytes.count)")
        }
        let key =
            isPrivate
            ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, bytes, bytes.count)
            : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, bytes, bytes.count)
        guard let key else { throw .invalidKey(source: "key bytes", reason: OpenSSLErrors.drain()) }
        return EVPKey(key)
    }

    /// The 32 raw bytes of the public key (also for a private key).
    var rawPublic: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = out.count
        // Cannot fail for an Ed25519 key, which is all this type ever holds.
        _ = EVP_PKEY_get_raw_public_key(pointer, &out, &length)
        return Array(out.prefix(length))
    }

    /// The 32-byte secret seed (private keys only).
    var rawPrivate: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = out.count
        guard EVP_PKEY_get_raw_private_key(pointer, &out, &length) == 1 else { return [] }
        return Array(out.prefix(length))
    }

    /// Ed25519 signature (PureEdDSA: no pre-hash, hence the NULL digest) of `message`.
    func sign(_ message: [UInt8]) throws(IntegrityError) -> [UInt8] {
        guard let ctx = EVP_MD_CTX_new() else { throw .crypto(operation: "allocate a signing context", reason: OpenSSLErrors.drain()) }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, nil, nil, pointer) == 1 else {
            throw .crypto(operation: "start an Ed25519 signature", reason: OpenSSLErrors.drain())
        }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = signature.count
        guard EVP_DigestSign(ctx, &signature, &length, message, message.count) == 1, length == 64 else {
            throw .crypto(operation: "sign with Ed25519", reason: OpenSSLErrors.drain())
        }
        return signature
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    func verify(_ signature: [UInt8], message: [UInt8]) -> Bool {
        guard signature.count == 64, let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, nil, nil, pointer) == 1 else {
            _ = OpenSSLErrors.drain()
            return false
        }
        let ok = EVP_DigestVerify(ctx, signature, signature.count, message, message.count) == 1
        // A bad signature leaves an entry on the thread's error queue; it must not surface in a later message.
        if !ok { _ = OpenSSLErrors.drain() }
        return ok
    }

    // MARK: PEM

    /// The key `read` parses from the PEM text `text`; it must be an Ed25519 key.
    static func parsePEM(_ text: [UInt8], source: String, read: (OpaquePointer) -> OpaquePointer?) throws(IntegrityError) -> EVPKey {
        guard !text.isEmpty, text.count < Int(Int32.max) else { throw .invalidKey(source: source, reason: "the file is empty") }
        let parsed: OpaquePointer? = text.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return read(bio)
        }
        guard let parsed else {
            let reason = OpenSSLErrors.drain()
            throw .invalidKey(source: source, reason: "no PEM key could be read (\(reason))")
        }
        let key = EVPKey(parsed)
        guard EVP_PKEY_get_id(parsed) == EVP_PKEY_ED25519 else {
            throw .invalidKey(source: source, reason: "it holds a key of another type; kraken-audit signs with Ed25519 only")
        }
        return key
    }
}

/// A PEM passphrase callback that refuses: an encrypted key file fails to load instead of prompting on the
/// terminal (kraken-audit runs unattended).
func refusePassphrase(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int32, _ writing: Int32, _ context: UnsafeMutableRawPointer?) -> Int32
{
    0
}

/// libcrypto's thread-local error queue.
enum OpenSSLErrors {
    /// The queued errors as one line (emptying the queue), or "unknown error".
    static func drain() -> String {
        var messages: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.isEmpty ? "unknown error" : messages.joined(separator: "; ")
    }
}
