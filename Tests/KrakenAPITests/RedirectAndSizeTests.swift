import AuditKernel
import Foundation
import KrakenAPI
import Logging
import TestSupport
import Testing

/// Issue 14 items 1 and 9: a redirect is never followed (it would carry API-Key and API-Sign to the target),
/// and a response body larger than the client's limit is stopped while it arrives.
@Suite struct RedirectAndSizeTests {
    static let secret = "kQH5HW/8p1uGOVjbgWA7FunAmGO8lsSUXNsu3eow76sz84Q18fWxnyRzBHCd3pd5nE9qa99HAZtuZuj6F1huXg=="

    struct Nonces: NonceSource {
        func nextNonce() async throws -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
    }

    static func client(_ server: LoopbackHTTPServer, maxResponseBytes: Int = KrakenClient.defaultMaxResponseBytes) throws -> KrakenClient {
        var logger = Logger(label: "redirect-test")
        logger.logLevel = .critical
        return try KrakenClient(
            baseURL: "http://127.0.0.1:\(server.port)", credentials: KrakenCredentials(apiKey: "PUBLIC-KEY", secret: Secret(secret)),
            nonces: Nonces(), timeout: 60, maxResponseBytes: maxResponseBytes, logger: logger)
    }

    /// A local endpoint answering every call with `307 Location: http://127.0.0.2:P/steal?token=...`; a second
    /// listener on 127.0.0.2 records whatever reaches it. It must receive nothing, and the error names the redirect.
    @Test(arguments: [301, 302, 303, 307, 308])
    func redirectIsRefusedAndNothingReachesTheTarget(status: Int) async throws {
        let thief = try LoopbackHTTPServer(host: "127.0.0.2") { _ in
            .response(status: 200, headers: [], body: Array(#"{"error":[],"result":{}}"#.utf8))
        }
        defer { thief.stop() }
        let location = "http://127.0.0.2:\(thief.port)/steal?token=SECRET-TOKEN"
        let endpoint = try LoopbackHTTPServer { _ in .response(status: status, headers: [("Location", location)], body: Array("moved".utf8))
        }
        defer { endpoint.stop() }
        let client = try Self.client(endpoint)

        for call in ["private", "public"] {
            do {
                if call == "private" { _ = try await client.privateCall("Balance") } else { _ = try await client.publicCall("Time") }
                Issue.record("the \(call) call succeeded through a redirect")
            } catch {
                #expect(
                    error == .redirected(method: call == "private" ? "Balance" : "Time", status: status, host: "127.0.0.2:\(thief.port)"))
                #expect(error.description.contains("HTTP \(status)") && error.description.contains("redirect to 127.0.0.2"), "\(error)")
                #expect(!error.description.contains("SECRET-TOKEN") && !error.description.contains("/steal"), "only the host is named")
                #expect(!error.isTransient, "a redirect is not retried")
            }
        }
        // The redirect would have been followed before the call returned: nothing may have arrived by now.
        #expect(thief.requests.isEmpty, "the redirect target received: \(thief.requests)")
        #expect(endpoint.requests.count == 2)
        #expect(endpoint.requests.first?.lowercased().contains("api-sign:") == true, "the endpoint itself did get the signed call")
    }

    /// An answer announcing 200 MiB is refused at its headers.
    @Test func declaredOversizedBodyIsRefused() async throws {
        let endpoint = try LoopbackHTTPServer { _ in .stream(total: 200 << 20, declareLength: true) }
        defer { endpoint.stop() }
        let client = try Self.client(endpoint)
        await #expect(throws: KrakenError.responseTooLarge(method: "Ledgers", limit: Int64(KrakenClient.defaultMaxResponseBytes))) {
            _ = try await client.privateCall("Ledgers")
        }
    }

    /// An answer without a length that keeps coming (512 MiB) fails with the typed error once it passes the limit
    /// (the old transport held the whole body and then failed it as malformed JSON). Bytes past the limit are
    /// dropped as they arrive; the transfer is cancelled (on loopback the sender may still finish first).
    @Test func streamedOversizedBodyIsStoppedWhileArriving() async throws {
        let total = 512 << 20
        let endpoint = try LoopbackHTTPServer { _ in .stream(total: total, declareLength: false) }
        defer { endpoint.stop() }
        let client = try Self.client(endpoint, maxResponseBytes: 8 << 20)
        do {
            _ = try await client.publicCall("AssetPairs")
            Issue.record("an oversized answer was accepted")
        } catch {
            #expect(error == .responseTooLarge(method: "AssetPairs", limit: 8 << 20))
            #expect(error.description.contains("larger than 8 MiB"), "\(error)")
            #expect(!error.isTransient)
        }
        // The connection ends (cancelled or sent out) and the transport is usable again.
        let deadline = Date().addingTimeInterval(60)
        while !endpoint.streamFinished, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(endpoint.streamFinished)
    }

    /// Within the limit, answers arrive whole; a body streamed to a ResponseFile is hashed as written.
    @Test func answersWithinTheLimitAndFileBodies() async throws {
        let endpoint = try LoopbackHTTPServer { line in
            line.contains("RetrieveExport")
                ? .stream(total: 3 << 20, declareLength: false)
                : .response(status: 200, headers: [], body: Array(#"{"error":[],"result":{"unixtime":1}}"#.utf8))
        }
        defer { endpoint.stop() }
        let client = try Self.client(endpoint, maxResponseBytes: 1 << 20)
        let time = try await client.publicCall("Time")
        #expect(time.result["unixtime"]?.numberText == "1")

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ka-body-\(UUID().uuidString)").path
        let fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0o600)
        #expect(fd >= 0)
        defer {
            close(fd)
            unlink(path)
        }
        // The file's own limit applies (3 MiB over the client's 1 MiB), not the in-memory one; not a zip, so
        // the body is read back as JSON and fails as such.
        let file = ResponseFile(descriptor: fd, maxBytes: 4 << 20)
        await KrakenClient.$responseFile.withValue(file) {
            await #expect(throws: KrakenError.responseTooLarge(method: "RetrieveExport", limit: 1 << 20)) {
                _ = try await client.privateCall("RetrieveExport", parameters: [("id", "TCJA")], nonce: 1, binaryAllowed: true)
            }
        }
        #expect(file.byteCount == 3 << 20)
        #expect(file.sha256Hex() == Crypto.sha256Hex([UInt8](repeating: 0x78, count: 3 << 20)))
        var st = stat()
        #expect(fstat(fd, &st) == 0 && st.st_size == 3 << 20)
        // Over the file's limit: refused while arriving.
        let small = ResponseFile(descriptor: fd, maxBytes: 1 << 20)
        await KrakenClient.$responseFile.withValue(small) {
            await #expect(throws: KrakenError.responseTooLarge(method: "RetrieveExport", limit: 1 << 20)) {
                _ = try await client.privateCall("RetrieveExport", parameters: [("id", "TCJA")], nonce: 2, binaryAllowed: true)
            }
        }
        #expect(small.byteCount <= 1 << 20)
    }
}
