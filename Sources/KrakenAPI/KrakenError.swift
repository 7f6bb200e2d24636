import Foundation

/// One of Kraken's error strings (`<severity><category>:<message>[:<extra>]`), classified by prefix
/// (../shared/kraken-api.md §6).
public struct KrakenErrorString: Sendable, Equatable, CustomStringConvertible {
    /// The string as Kraken sent it.
    public let raw: String

    public init(_ raw: String) { self.raw = raw }

    /// What a client should do about it.
    public enum Kind: String, Sendable, Equatable {
        case invalidKey, invalidSignature, invalidNonce, rateLimited, permissionDenied, temporaryLockout
        case throttled, transient, invalidArguments, unknownMethod, accountProblem, warning, other
    }

    /// Classification of ``raw`` by prefix.
    public var kind: Kind {
        let s = raw
        if s.hasPrefix("W") { return .warning }
        if s.hasPrefix("EAPI:Invalid key") { return .invalidKey }
        if s.hasPrefix("EAPI:Invalid signature") { return .invalidSignature }
        if s.hasPrefix("EAPI:Invalid nonce") { return .invalidNonce }
        if s.hasPrefix("EAPI:Rate limit exceeded") || s.hasPrefix("EGeneral:Too many requests") { return .rateLimited }
        if s.hasPrefix("EGeneral:Permission denied") || s.hasPrefix("EAccount:Invalid permissions") {
            return .permissionDenied
        }
        if s.hasPrefix("EGeneral:Temporary lockout") { return .temporaryLockout }
        if s.hasPrefix("EService:Throttled") || s.hasPrefix("EService: Throttled") { return .throttled }
        if s.hasPrefix("EService:") || s.hasPrefix("EGeneral:Internal error") || s.hasPrefix("EDatabase:") {
            return .transient
        }
        if s.hasPrefix("EGeneral:Invalid arguments") || s.hasPrefix("EAPI:Bad request") { return .invalidArguments }
        if s.hasPrefix("EGeneral:Unknown method") { return .unknownMethod }
        if s.hasPrefix("EAuth:") || s.hasPrefix("ETrade:User Locked") || s.hasPrefix("ESession:") {
            return .accountProblem
        }
        return .other
    }

    /// For `EService: Throttled: <unix ts>`, the time after which to retry.
    public var throttledUntil: Date? {
        guard kind == .throttled, let last = raw.split(separator: ":").last,
            let ts = Double(last.trimmingCharacters(in: .whitespaces))
        else { return nil }
        return Date(timeIntervalSince1970: ts)
    }

    public var description: String { raw }
}

/// Everything that can go wrong talking to Kraken. Never carries a secret, a signature or a request body.
public enum KrakenError: Error, CustomStringConvertible, Equatable {
    /// Kraken answered with one or more error strings (HTTP 200 envelope).
    case api(method: String, errors: [KrakenErrorString])
    /// A non-200 HTTP status (Cloudflare 5xx/52x pages, 429...).
    case http(method: String, status: Int, snippet: String)
    /// The request did not complete: timeout, connection refused or reset, DNS.
    case transport(method: String, reason: String)
    /// The response was not the JSON envelope Kraken documents.
    case malformedResponse(method: String, reason: String)
    /// The configured base URL is not acceptable (plain http to a non-loopback host, bad syntax).
    case insecureURL(String)
    /// The nonce source failed (e.g. the database holding nonces is unreachable).
    case nonceUnavailable(reason: String)
    /// The endpoint answered with a redirect (HTTP 3xx), which is never followed: it would carry `API-Key` and
    /// `API-Sign` to another server. `host` is the target's host (and port) only, never its path or query.
    case redirected(method: String, status: Int, host: String)
    /// The response body was larger than the client's limit; it was cut off while arriving and discarded.
    case responseTooLarge(method: String, limit: Int64)
    /// A response streamed to a file (`RetrieveExport`) could not be written (disk full, I/O error).
    case responseFileFailed(method: String, reason: String)

    /// The most significant Kraken error kind, if any.
    public var kind: KrakenErrorString.Kind? {
        guard case .api(_, let errors) = self else { return nil }
        return errors.first { $0.kind != .warning }?.kind ?? errors.first?.kind
    }

    /// For `EService: Throttled: <ts>`, when to retry.
    public var throttledUntil: Date? {
        guard case .api(_, let errors) = self else { return nil }
        return errors.lazy.compactMap(\.throttledUntil).first
    }

    /// Short strings for the call log: Kraken's error strings, or `HTTP 520`, `transport: timed out`, ...
    public var errorStrings: [String] {
        switch self {
        case .api(_, let errors): return errors.map(\.raw)
        case .http(_, let status, _): return ["HTTP \(status)"]
        case .transport(_, let reason): return ["transport: \(reason)"]
        case .malformedResponse(_, let reason): return ["malformed: \(reason)"]
        case .insecureURL: return ["insecure URL"]
        case .nonceUnavailable: return ["nonce unavailable"]
        case .redirected(_, let status, let host): return ["redirect: HTTP \(status) to \(host)"]
        case .responseTooLarge(_, let limit): return ["response over \(limit) bytes"]
        case .responseFileFailed(_, let reason): return ["response file: \(reason)"]
        }
    }

    /// A stable name for the kind of failure, for the call log's `error_kind` and metrics.
    public var kindName: String {
        switch self {
        case .api: return kind?.rawValue ?? "other"
        case .http: return "http"
        case .transport(_, let reason): return reason == "timed out" ? "timeout" : "transport"
        case .malformedResponse: return "malformed"
        case .insecureURL: return "config"
        case .nonceUnavailable: return "nonce_store"
        case .redirected: return "redirect"
        case .responseTooLarge: return "too_large"
        case .responseFileFailed: return "local_file"
        }
    }

    /// Whether retrying later (with a fresh nonce and signature) may succeed.
    public var isTransient: Bool {
        switch self {
        case .api:
            switch kind {
            case .transient, .throttled, .rateLimited: return true
            default: return false
            }
        case .http(_, let status, _): return status >= 500 || status == 429 || status == 408
        case .transport: return true
        // A redirect or an oversized answer comes back on every retry (a misconfigured api_url, a proxy, a
        // hostile endpoint): retrying would only send more signed requests to it. A full disk needs a person.
        case .malformedResponse, .insecureURL, .nonceUnavailable, .redirected, .responseTooLarge, .responseFileFailed: return false
        }
    }

    public var description: String {
        switch self {
        case .api(let method, let errors):
            let text = errors.map(\.raw).joined(separator: ", ")
            let advice: String
            switch kind {
            case .invalidKey: advice = "the API key is unknown or revoked: check api_key_env/api_key_file"
            case .invalidSignature: advice = "the API secret does not match the key: check api_secret_*"
            case .invalidNonce:
                advice = "another client is using this key, or a nonce of a larger scale was used with it: give kraken-audit its own key"
            case .rateLimited: advice = "the key's call counter is over its maximum: wait and lower the tier/rate_limit in the config"
            case .permissionDenied: advice = "the key lacks a permission this call needs: edit the key's permissions on Kraken"
            case .temporaryLockout: advice = "Kraken locked the key for about 15 minutes after repeated failures: fix the cause, then wait"
            case .throttled, .transient: advice = "Kraken is unavailable or busy: retry later"
            default: advice = "see Kraken's error documentation"
            }
            return "Kraken \(method) failed: \(text) (\(advice))"
        case .http(let method, let status, let snippet):
            return "Kraken \(method) returned HTTP \(status)\(snippet.isEmpty ? "" : ": \(snippet)") (temporary; retry later)"
        case .transport(let method, let reason):
            return "Kraken \(method) could not be reached: \(reason) (check api_url and the network)"
        case .malformedResponse(let method, let reason):
            return "Kraken \(method) sent a malformed response: \(reason)"
        case .insecureURL(let reason):
            return reason
        case .nonceUnavailable(let reason):
            return "no nonce could be taken for the key: \(reason)"
        case .redirected(let method, let status, let host):
            return
                "Kraken \(method) answered HTTP \(status), a redirect to \(host); kraken-audit never follows redirects (they would send the API key and signature to another server): set api_url to Kraken's API itself (https://api.kraken.com) and check any proxy in between"
        case .responseTooLarge(let method, let limit):
            return
                "Kraken \(method) sent a response larger than \(Self.size(limit)); it was stopped and discarded (nothing of it was stored): check api_url, or raise the limit (max_response_mib) if the answer is genuine"
        case .responseFileFailed(let method, let reason):
            return
                "Kraken \(method): writing the downloaded file failed (\(reason)): free disk space or set --export-dir / KRAKEN_AUDIT_EXPORT_DIR to a writable directory"
        }
    }

    /// `32 MiB`, `4 GiB`, or bytes when not a whole number of MiB.
    static func size(_ bytes: Int64) -> String {
        if bytes >= 1 << 30, bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        return "\(bytes) bytes"
    }
}
