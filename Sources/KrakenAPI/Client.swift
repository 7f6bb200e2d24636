import AuditKernel
import Foundation
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// An HTTP request as the transport sends it.
public struct TransportRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var timeout: TimeInterval
    /// The largest response body accepted in memory; a longer one fails the request with
    /// ``ResponseBodyError/tooLarge(limit:declared:)`` while it is received, never after.
    public var maxResponseBytes: Int
    /// When set, the body is streamed into this file (under the file's own limit) instead of memory.
    public var responseFile: ResponseFile?

    public init(
        method: String, url: URL, headers: [(String, String)], body: [UInt8], timeout: TimeInterval,
        maxResponseBytes: Int = KrakenClient.defaultMaxResponseBytes, responseFile: ResponseFile? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.maxResponseBytes = maxResponseBytes
        self.responseFile = responseFile
    }
}

/// An HTTP response.
public struct TransportResponse: Sendable {
    public var status: Int
    /// The body (empty when it was streamed to the request's ``TransportRequest/responseFile``).
    public var body: [UInt8]
    /// The `Location` header of a 3xx answer (redirects are never followed, see ``URLSessionTransport``).
    public var location: String?
    public init(status: Int, body: [UInt8], location: String? = nil) {
        self.status = status
        self.body = body
        self.location = location
    }
}

/// The seam between the Kraken client and the network; tests replace it.
///
/// A transport must not follow redirects (a 3xx is returned as the response) and must honour
/// ``TransportRequest/maxResponseBytes`` and ``TransportRequest/responseFile``.
public protocol HTTPTransport: Sendable {
    /// Sends `request`; throws only when no HTTP response was received (the reason in plain words) or the body
    /// broke its limit (``ResponseBodyError``).
    func send(_ request: TransportRequest) async throws -> TransportResponse
}

/// Where nonces come from. The production source is the database-backed store (strictly increasing per key
/// across processes); see ../shared/kraken-api.md §1.4.
public protocol NonceSource: Sendable {
    /// The next nonce for this key, greater than any handed out before.
    func nextNonce() async throws -> UInt64
}

/// The credentials of one API key. The public key is not secret but is still never logged: only its
/// ``fingerprint`` is.
public struct KrakenCredentials: Sendable {
    public let apiKey: String
    public let secret: Secret
    public let otp: Secret?

    public init(apiKey: String, secret: Secret, otp: Secret? = nil) {
        self.apiKey = apiKey
        self.secret = secret
        self.otp = otp
    }

    /// `sha256:` + the first 16 hex digits of SHA-256(apiKey): identifies the key in logs and the database.
    public var fingerprint: String { KrakenCredentials.fingerprint(of: apiKey) }

    public static func fingerprint(of apiKey: String) -> String {
        "sha256:" + String(Crypto.sha256Hex(Array(apiKey.utf8)).prefix(16))
    }
}

/// A decoded successful Kraken response.
public struct KrakenResponse: Sendable {
    /// The `result` member (`.null` when Kraken omitted it, as `Balance` does on an empty account).
    public let result: JSONValue
    /// Warning strings (`W...`) that accompanied the result.
    public let warnings: [KrakenErrorString]
    /// HTTP status and body size, for the call log.
    public let status: Int
    public let bytes: Int
}

/// What a call that may answer with a file returned: a JSON envelope's result, or the raw bytes of a zip archive
/// (`RetrieveExport`, ../shared/kraken-export-api.md §3: decided by the `PK\u{03}\u{04}` magic, not the status).
///
/// When the call ran inside ``KrakenClient/$responseFile`` (the collector's export download), the archive was
/// streamed into that file and `binary` holds no bytes: the file's ``ResponseFile/byteCount`` and
/// ``ResponseFile/sha256Hex()`` describe it.
public enum KrakenPayload: Sendable {
    case json(KrakenResponse)
    case binary([UInt8])

    /// Whether `body` starts like a zip archive (local file header signature).
    public static func isZip(_ body: [UInt8]) -> Bool {
        body.count >= 4 && body[0] == 0x50 && body[1] == 0x4B && body[2] == 0x03 && body[3] == 0x04
    }
}

/// What one attempt of a call looked like, for the call log (`audit.api_calls`). Never holds secrets.
public struct CallRecord: Sendable {
    public let method: String
    public let nonce: UInt64?
    public let parameters: [(String, String)]
    public let started: Date
    public let duration: TimeInterval
    public let httpStatus: Int?
    public let errors: [String]
    public let bytes: Int
}

/// Sees every attempt the client makes, before the call returns (the collector stores them in
/// `audit.api_calls`).
public protocol CallObserver: Sendable {
    func record(_ call: CallRecord) async
}

/// Signs and sends calls to Kraken's REST API. One attempt per call: retries, pacing and backoff belong to the
/// caller (the collector), which must take a fresh nonce each time, as this client does on every call.
public struct KrakenClient: Sendable {
    public let baseURL: URL
    public let credentials: KrakenCredentials
    public let timeout: TimeInterval
    private let signer: RequestSigner
    private let nonces: any NonceSource
    private let transport: any HTTPTransport
    private let observer: (any CallObserver)?
    private let logger: Logger
    /// The largest response body accepted (public and private calls); see ``defaultMaxResponseBytes``.
    public let maxResponseBytes: Int

    public static let userAgent = "kraken-audit/0.1"

    /// 32 MiB: Kraken's largest JSON answers (a 50-entry Ledgers page, AssetPairs) are well under 1 MiB, so
    /// this only stops a broken or hostile endpoint from growing the process without bound.
    public static let defaultMaxResponseBytes = 32 << 20

    /// Where a call with `binaryAllowed` streams a file body (`RetrieveExport`) instead of memory. A task-local
    /// value so the collector's paced, retrying call path carries it through unchanged: set it around the call
    /// with `KrakenClient.$responseFile.withValue(file) { ... }`. Every attempt rewrites the file from the start.
    @TaskLocal public static var responseFile: ResponseFile?

    /// - Parameter maxResponseBytes: the largest response body accepted; a longer one fails the call with
    ///   ``KrakenError/responseTooLarge(method:limit:)`` while it arrives (the `[[account]]` setting
    ///   `max_response_mib` sets it).
    /// - Throws: ``KrakenError/insecureURL(_:)`` for a bad base URL, ``SigningError`` for a bad secret.
    public init(
        baseURL: String, credentials: KrakenCredentials, nonces: any NonceSource,
        transport: any HTTPTransport = URLSessionTransport(), observer: (any CallObserver)? = nil,
        timeout: TimeInterval = 30, maxResponseBytes: Int = KrakenClient.defaultMaxResponseBytes, logger: Logger
    ) throws {
        self.maxResponseBytes = max(1, maxResponseBytes)
        self.baseURL = try BaseURL.validate(baseURL)
        self.credentials = credentials
        self.signer = try RequestSigner(secret: credentials.secret)
        self.nonces = nonces
        self.transport = transport
        self.observer = observer
        self.timeout = timeout
        var logger = logger
        logger[metadataKey: "key"] = .string(credentials.fingerprint)
        self.logger = logger
    }

    /// Calls `/0/private/<method>` with `parameters` (form-encoded in order, after the nonce), taking the nonce
    /// from the client's ``NonceSource``.
    public func privateCall(_ method: String, parameters: [(String, String)] = []) async throws(KrakenError)
        -> KrakenResponse
    {
        let nonce: UInt64
        do {
            nonce = try await nonces.nextNonce()
        } catch {
            throw .nonceUnavailable(reason: String(describing: error))
        }
        return try await privateCall(method, parameters: parameters, nonce: nonce)
    }

    /// Calls `/0/private/<method>` with a nonce the caller took (the collector takes nonce and rate budget in
    /// one step, see `CallGate`). Every call must use a fresh nonce: a retry calls this again with a new one.
    public func privateCall(_ method: String, parameters: [(String, String)], nonce: UInt64) async throws(KrakenError)
        -> KrakenResponse
    {
        switch try await privateCall(method, parameters: parameters, nonce: nonce, binaryAllowed: false) {
        case .json(let r): return r
        case .binary: throw .malformedResponse(method: method, reason: "unexpected binary body")
        }
    }

    /// Like ``privateCall(_:parameters:nonce:)``; with `binaryAllowed`, an HTTP 200 body that is a zip archive is
    /// returned as ``KrakenPayload/binary(_:)`` (a JSON body is still decoded, so Kraken's errors are thrown).
    public func privateCall(_ method: String, parameters: [(String, String)], nonce: UInt64, binaryAllowed: Bool)
        async throws(KrakenError) -> KrakenPayload
    {
        let signed = SignedRequest(
            method: method, nonce: nonce, parameters: parameters, otp: credentials.otp, signer: signer)
        let request = TransportRequest(
            method: "POST", url: url(path: signed.path),
            headers: [
                ("API-Key", credentials.apiKey), ("API-Sign", signed.signature),
                ("Content-Type", "application/x-www-form-urlencoded"), ("User-Agent", Self.userAgent),
            ],
            body: signed.body, timeout: timeout, maxResponseBytes: maxResponseBytes,
            responseFile: binaryAllowed ? Self.responseFile : nil)
        return try await perform(request, method: method, nonce: nonce, parameters: parameters, binaryAllowed: binaryAllowed)
    }

    /// Calls `/0/public/<method>` with a query string.
    public func publicCall(_ method: String, query: [(String, String)] = []) async throws(KrakenError)
        -> KrakenResponse
    {
        var path = "/0/public/\(method)"
        if !query.isEmpty { path += "?" + FormEncoding.encode(query) }
        let request = TransportRequest(
            method: "GET", url: url(path: path), headers: [("User-Agent", Self.userAgent)], body: [],
            timeout: timeout, maxResponseBytes: maxResponseBytes)
        switch try await perform(request, method: method, nonce: nil, parameters: query, binaryAllowed: false) {
        case .json(let r): return r
        case .binary: throw .malformedResponse(method: method, reason: "unexpected binary body")
        }
    }

    private func url(path: String) -> URL {
        var base = baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        // Both parts are validated/escaped ASCII; URL(string:) cannot fail on them.
        return URL(string: base + path) ?? baseURL
    }

    private func perform(_ request: TransportRequest, method: String, nonce: UInt64?, parameters: [(String, String)], binaryAllowed: Bool)
        async throws(KrakenError) -> KrakenPayload
    {
        let started = Date()
        let outcome = await attempt(request, method: method, binaryAllowed: binaryAllowed)
        if let observer {
            let failure: [String]
            switch outcome.result {
            case .success(.json(let r)): failure = r.warnings.map(\.raw)
            case .success(.binary): failure = []
            case .failure(let e): failure = e.errorStrings
            }
            await observer.record(
                CallRecord(
                    method: method, nonce: nonce, parameters: parameters, started: started,
                    duration: Date().timeIntervalSince(started), httpStatus: outcome.status, errors: failure,
                    bytes: outcome.bytes))
        }
        return try outcome.result.get()
    }

    private func attempt(_ request: TransportRequest, method: String, binaryAllowed: Bool) async -> (
        result: Result<KrakenPayload, KrakenError>, status: Int?, bytes: Int
    ) {
        var response: TransportResponse
        do {
            response = try await transport.send(request)
        } catch let e as ResponseBodyError {
            logger.warning("kraken response refused", metadata: ["method": "\(method)", "reason": "\(e)"])
            switch e {
            case .tooLarge(let limit, _): return (.failure(.responseTooLarge(method: method, limit: limit)), nil, 0)
            case .fileWrite(let reason): return (.failure(.responseFileFailed(method: method, reason: reason)), nil, 0)
            }
        } catch {
            let reason = Self.describeTransportError(error)
            logger.debug("kraken call failed", metadata: ["method": "\(method)", "reason": "\(reason)"])
            return (.failure(.transport(method: method, reason: reason)), nil, 0)
        }
        let status = response.status
        let file = request.responseFile
        let bytes = file.map { Int($0.byteCount) } ?? response.body.count
        if (300..<400).contains(status) {
            let host = Self.redirectHost(response.location, from: request.url)
            logger.warning(
                "kraken call redirected; not followed", metadata: ["method": "\(method)", "status": "\(status)", "host": "\(host)"])
            return (.failure(.redirected(method: method, status: status, host: host)), status, bytes)
        }
        guard status == 200 else {
            return (.failure(.http(method: method, status: status, snippet: Self.snippet(file?.head ?? response.body))), status, bytes)
        }
        if let file {
            if KrakenPayload.isZip(file.head) { return (.success(.binary([])), status, bytes) }
            // Not an archive: a JSON answer (Kraken's error envelope) came instead; it is small, read it back.
            guard let body = file.readAll(limit: maxResponseBytes) else {
                return (.failure(.responseTooLarge(method: method, limit: Int64(maxResponseBytes))), status, bytes)
            }
            response.body = body
        }
        if binaryAllowed, KrakenPayload.isZip(response.body) { return (.success(.binary(response.body)), status, bytes) }
        let envelope: JSONValue
        do {
            envelope = try JSONValue.parse(response.body)
        } catch {
            return (.failure(.malformedResponse(method: method, reason: error.description)), status, bytes)
        }
        guard case .object = envelope, let errorField = envelope["error"]?.arrayValue else {
            return (.failure(.malformedResponse(method: method, reason: "the envelope has no 'error' array")), status, bytes)
        }
        let strings = errorField.compactMap(\.stringValue).map(KrakenErrorString.init)
        if strings.contains(where: { $0.kind != .warning }) {
            logger.debug("kraken call returned errors", metadata: ["method": "\(method)", "errors": "\(strings.map(\.raw))"])
            return (.failure(.api(method: method, errors: strings)), status, bytes)
        }
        logger.trace("kraken call ok", metadata: ["method": "\(method)", "bytes": "\(bytes)"])
        return (
            .success(.json(KrakenResponse(result: envelope["result"] ?? .null, warnings: strings, status: status, bytes: bytes))),
            status, bytes
        )
    }

    static func describeTransportError(_ error: any Error) -> String {
        if let urlError = error as? URLError {
            switch urlError.code {
            case .timedOut: return "timed out"
            case .cannotConnectToHost: return "connection refused"
            case .networkConnectionLost: return "connection reset"
            case .cannotFindHost, .dnsLookupFailed: return "host not found"
            case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate:
                return "TLS handshake failed"
            default: return "network error \(urlError.code.rawValue)"
            }
        }
        return String(describing: error)
    }

    /// The host (and port) a redirect points to, for the error message: never the path or query, which could
    /// hold tokens. A relative `Location` points to the request's own host.
    static func redirectHost(_ location: String?, from url: URL) -> String {
        guard let location, !location.isEmpty else { return "(no Location header)" }
        guard let target = URL(string: location, relativeTo: url)?.absoluteURL, let host = target.host, !host.isEmpty else {
            return "(unparseable Location)"
        }
        return target.port.map { "\(host):\($0)" } ?? host
    }

    /// A short, single-line excerpt of a non-JSON body (e.g. Cloudflare's HTML title) for error messages.
    static func snippet(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(2048), as: UTF8.self)
        if let start = text.range(of: "<title>"), let end = text.range(of: "</title>", range: start.upperBound..<text.endIndex) {
            return String(text[start.upperBound..<end.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return String(flat.prefix(120))
    }
}
