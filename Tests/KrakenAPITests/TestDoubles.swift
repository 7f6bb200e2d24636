import AuditKernel
import Foundation

@testable import KrakenAPI

// Test doubles shared by the client suites.

/// Records the request it is given and answers with a canned response.
final class CapturingTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var _requests: [TransportRequest] = []
    let response: @Sendable (TransportRequest) throws -> TransportResponse

    init(_ response: @escaping @Sendable (TransportRequest) throws -> TransportResponse) { self.response = response }

    var requests: [TransportRequest] { lock.withLock { _requests } }

    func send(_ request: TransportRequest) async throws -> TransportResponse {
        lock.withLock { _requests.append(request) }
        return try response(request)
    }
}

actor CountingNonces: NonceSource {
    var value: UInt64
    init(start: UInt64) { value = start }
    func nextNonce() async throws -> UInt64 {
        value += 1
        return value
    }
}
