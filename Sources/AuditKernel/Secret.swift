import COpenSSL
import Foundation

/// A secret value (an API secret, an OTP password) that never prints itself.
///
/// `description`, `debugDescription` and reflection all show `<redacted>`; the bytes live in a buffer that is
/// zeroed when the last reference goes away. Use ``withBytes(_:)`` to hand the bytes to a crypto primitive and
/// ``unsafeStringValue()`` only where a string must go on the wire (the `otp` body field).
public final class Secret: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable, Equatable
{
    // Immutable after init; only read through `withBytes`, so sharing across threads is safe.
    private let allocation: UnsafeMutableBufferPointer<UInt8>
    private let storage: UnsafeBufferPointer<UInt8>

    /// Creates a secret holding a copy of `bytes`.
    public init<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        buffer.initialize(repeating: 0)
        var n = 0
        for b in bytes { buffer[n] = b; n += 1 }
        allocation = buffer
        storage = UnsafeBufferPointer(rebasing: buffer[0..<n])
    }

    /// Creates a secret whose bytes `fill` writes straight into the zeroing storage (no intermediate copy):
    /// `fill` gets `capacity` zeroed bytes and returns how many it used. If `fill` throws, the storage is
    /// zeroed and freed before the error propagates.
    public init<E: Error>(capacity: Int, fill: (UnsafeMutableBufferPointer<UInt8>) throws(E) -> Int) throws(E) {
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(capacity, 1))
        buffer.initialize(repeating: 0)
        let n: Int
        do {
            n = try fill(UnsafeMutableBufferPointer(rebasing: buffer[0..<capacity]))
        } catch {
            OPENSSL_cleanse(buffer.baseAddress, buffer.count)
            buffer.deallocate()
            throw error
        }
        precondition((0...capacity).contains(n), "Secret(capacity:fill:): fill returned \(n) for capacity \(capacity)")
        allocation = buffer
        storage = UnsafeBufferPointer(rebasing: buffer[0..<n])
    }

    /// Creates a secret from the UTF-8 bytes of `string`.
    public convenience init(_ string: String) {
        self.init(bytes: Array(string.utf8))
    }

    deinit {
        // Zero before freeing (OPENSSL_cleanse cannot be optimised away).
        OPENSSL_cleanse(allocation.baseAddress, allocation.count)
        allocation.deallocate()
    }

    /// Number of bytes in the secret.
    public var count: Int { storage.count }

    /// Whether the secret is empty.
    public var isEmpty: Bool { storage.isEmpty }

    /// Gives temporary access to the raw bytes.
    public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(storage)
    }

    /// The secret as a string. Call sites must not log or store the result.
    public func unsafeStringValue() -> String {
        String(decoding: storage, as: UTF8.self)
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "Secret(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .class) }

    public static func == (lhs: Secret, rhs: Secret) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<lhs.count { diff |= lhs.storage[i] ^ rhs.storage[i] }
        return diff == 0
    }
}
