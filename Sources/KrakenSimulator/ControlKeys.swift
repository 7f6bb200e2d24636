import AuditKernel
import Foundation
import KrakenAPI

/// A change to a simulated key's settings, as the account owner (or an account taker) makes it in Kraken's web
/// interface (Settings > API > edit key). Nil fields stay as they are.
public struct KeySettingsChange: Sendable {
    public var permissions: [String]?
    public var ipAllowlist: [String]?
    public var nonceWindow: UInt64?
    /// Unix seconds; 0 = never expires.
    public var validUntil: Int64?
    public var queryFrom: Int64?
    public var queryTo: Int64?
    /// Not a Kraken setting: whether GetApiKeyInfo's `nonce`/`lastUsed` exclude the asking request (Kraken does not
    /// document which; the default includes it). Does not move `modifiedTime`.
    public var keyInfoExcludesCurrent: Bool?

    public init(
        permissions: [String]? = nil, ipAllowlist: [String]? = nil, nonceWindow: UInt64? = nil, validUntil: Int64? = nil,
        queryFrom: Int64? = nil, queryTo: Int64? = nil, keyInfoExcludesCurrent: Bool? = nil
    ) {
        self.permissions = permissions
        self.ipAllowlist = ipAllowlist
        self.nonceWindow = nonceWindow
        self.validUntil = validUntil
        self.queryFrom = queryFrom
        self.queryTo = queryTo
        self.keyInfoExcludesCurrent = keyInfoExcludesCurrent
    }

    /// Whether a Kraken setting changes (then Kraken moves the key's `modifiedTime`).
    var changesKrakenSettings: Bool {
        permissions != nil || ipAllowlist != nil || nonceWindow != nil || validUntil != nil || queryFrom != nil || queryTo != nil
    }
}

/// `/_sim/keys/...` control endpoints (issue 15): change a key's settings, and sign a call with the key from
/// "another client". Not part of Kraken's API; loopback only like every `/_sim` endpoint.
///
/// - `GET /_sim/keys/<account>`: the key's settings (what GetApiKeyInfo reports, plus the simulator's reading).
/// - `POST /_sim/keys/<account>` with any of `permissions` (array), `ip_allowlist` (array), `nonce_window`,
///   `valid_until`, `query_from`, `query_to` (Unix seconds, 0 = unset), `key_info_excludes_current` (bool):
///   changes them; a Kraken setting moves `modifiedTime` to now.
/// - `POST /_sim/keys/<account>/foreign-call` with optional `method` (default `Balance`) and `nonce_ahead`
///   (default 1: the nonce is the key's highest plus this): a signed call with the key's secret, as another
///   program holding the key would make it; it goes through the same checks as any request.
extension SimulatorState {
    func controlKeys(_ request: SimHTTPRequest, path: String) -> SimHTTPResponse {
        var body: JSONValue = .object([])
        if !request.body.isEmpty {
            guard let parsed = try? JSONValue.parse(request.body), case .object = parsed else {
                return keysJSON(400, .object([("error", .string("the body must be a JSON object"))]))
            }
            body = parsed
        }
        let rest = path.dropFirst("/_sim/keys/".count).split(separator: "/").map(String.init)
        do throws(SimulatorError) {
            switch (request.method, rest.count, rest.last) {
            case ("GET", 1, _):
                return keysJSON(200, try keySettings(account: rest[0]))
            case ("POST", 1, _):
                try updateKey(account: rest[0], Self.keyChange(body))
                return keysJSON(200, try keySettings(account: rest[0]))
            case ("POST", 2, "foreign-call"):
                let ahead = try Self.unsigned(body["nonce_ahead"], "nonce_ahead") ?? 1
                let answer = try foreignCall(account: rest[0], method: body["method"]?.stringValue ?? "Balance", nonceAhead: ahead)
                return keysJSON(200, answer)
            default:
                return keysJSON(404, .object([("error", .string("unknown control endpoint \(request.method) \(path)"))]))
            }
        } catch {
            let status = if case .unknownAccount = error { 404 } else { 400 }
            return keysJSON(status, .object([("error", .string(error.description))]))
        }
    }

    /// The key's settings as JSON.
    public func keySettings(account: String) throws(SimulatorError) -> JSONValue {
        let k = try find(account).key
        return .object([
            ("account", .string(account)), ("permissions", .array(k.permissions.map(JSONValue.string))),
            ("ip_allowlist", .array(k.ipAllowlist.map(JSONValue.string))), ("nonce_window", .number(String(k.nonceWindow))),
            ("valid_until", .number(String(k.validUntil))), ("query_from", .number(String(k.queryFrom))),
            ("query_to", .number(String(k.queryTo))), ("created_time", .number(String(k.createdTime))),
            ("modified_time", .number(String(k.modifiedTime ?? k.createdTime + 195))),
            ("highest_nonce", .string(String(k.highestNonce))), ("key_info_excludes_current", .bool(k.keyInfoExcludesCurrent)),
        ])
    }

    /// Applies `change` to `account`'s key; a Kraken setting moves `modifiedTime` to now (at least one second on).
    public func updateKey(account: String, _ change: KeySettingsChange) throws(SimulatorError) {
        let a = try find(account)
        if let p = change.permissions {
            let unknown = p.filter { !Self.krakenPermissions.contains($0) }
            guard unknown.isEmpty else {
                throw .invalidOption("unknown permission(s) \(unknown); Kraken's are \(Self.krakenPermissions.joined(separator: ", "))")
            }
            a.key.permissions = p
        }
        if let v = change.ipAllowlist { a.key.ipAllowlist = v }
        if let v = change.nonceWindow { a.key.nonceWindow = v }
        if let v = change.validUntil { a.key.validUntil = v }
        if let v = change.queryFrom { a.key.queryFrom = v }
        if let v = change.queryTo { a.key.queryTo = v }
        if let v = change.keyInfoExcludesCurrent { a.key.keyInfoExcludesCurrent = v }
        if change.changesKrakenSettings {
            let previous = a.key.modifiedTime ?? a.key.createdTime + 195
            a.key.modifiedTime = max(nowTicks() / 10_000, previous + 1)
        }
    }

    /// Signs and serves one private call with `account`'s key as another client would: nonce = the key's highest
    /// plus `nonceAhead`, through every check a request gets (signature, nonce, permissions, counter). Returns
    /// Kraken's answer and the nonce used.
    public func foreignCall(account: String, method: String, nonceAhead: UInt64) throws(SimulatorError) -> JSONValue {
        let a = try find(account)
        guard nonceAhead > 0 else { throw .invalidOption("'nonce_ahead' must be positive") }
        let nonce = a.key.highestNonce + nonceAhead
        let path = "/0/private/\(method)"
        let body = Array("nonce=\(nonce)".utf8)
        let sign = a.key.signer.sign(path: path, nonce: nonce, body: body)
        let request = SimHTTPRequest(
            method: "POST", path: path,
            headers: [
                "API-Key": a.key.apiKey, "API-Sign": sign, "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "another-client/1.0",
            ],
            body: body)
        var seen: UInt64? = nil
        let answer = privateCall(method: method, request: request, nonce: &seen)
        return .object([("nonce", .string(String(nonce))), ("answer", answer.envelope)])
    }

    /// Permission values of GetApiKeyInfo (../shared/kraken-api.md §3.11).
    static let krakenPermissions = [
        "query-funds", "add-funds", "withdraw-funds", "earn-funds", "query-open-trades", "query-closed-trades", "modify-trades",
        "close-trades", "query-ledger", "export-data", "create-ws-token", "add-withdraw-address", "update-withdraw-address",
    ]

    static func keyChange(_ body: JSONValue) throws(SimulatorError) -> KeySettingsChange {
        func strings(_ key: String) throws(SimulatorError) -> [String]? {
            guard let v = body[key] else { return nil }
            guard let list = v.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else {
                throw .invalidOption("'\(key)' must be an array of strings")
            }
            return list.compactMap(\.stringValue)
        }
        func seconds(_ key: String) throws(SimulatorError) -> Int64? {
            try unsigned(body[key], key).map { Int64(clamping: $0) }
        }
        var change = KeySettingsChange()
        change.permissions = try strings("permissions")
        change.ipAllowlist = try strings("ip_allowlist")
        change.nonceWindow = try unsigned(body["nonce_window"], "nonce_window")
        change.validUntil = try seconds("valid_until")
        change.queryFrom = try seconds("query_from")
        change.queryTo = try seconds("query_to")
        if let v = body["key_info_excludes_current"] {
            guard case .bool(let b) = v else { throw .invalidOption("'key_info_excludes_current' must be true or false") }
            change.keyInfoExcludesCurrent = b
        }
        return change
    }

    static func unsigned(_ v: JSONValue?, _ key: String) throws(SimulatorError) -> UInt64? {
        guard let v else { return nil }
        guard let text = v.numberText ?? v.stringValue, let n = UInt64(text) else {
            throw .invalidOption("'\(key)' must be a non-negative whole number")
        }
        return n
    }

    private func keysJSON(_ status: Int, _ value: JSONValue) -> SimHTTPResponse {
        .respond(status: status, contentType: "application/json", body: Array((value.jsonText + "\n").utf8), delay: 0)
    }
}
