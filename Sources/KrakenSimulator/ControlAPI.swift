import AuditKernel
import Foundation
import KrakenAPI

/// `/_sim/...` control endpoints (JSON in, JSON out). Not part of Kraken's API.
extension SimulatorState {
    func control(_ request: SimHTTPRequest) -> SimHTTPResponse {
        let path = request.path.hasSuffix("/") ? String(request.path.dropLast()) : request.path
        let query = Params(values: FormEncoding.decode(request.query) ?? [])
        var body: JSONValue = .object([])
        if !request.body.isEmpty {
            guard let parsed = try? JSONValue.parse(request.body), case .object = parsed else {
                return json(400, .object([("error", .string("the body must be a JSON object"))]))
            }
            body = parsed
        }
        func string(_ name: String) -> String? { body[name]?.stringValue ?? query[name] }
        func number(_ name: String) -> Double? { (body[name]?.numberText ?? body[name]?.stringValue ?? query[name]).flatMap(Double.init) }
        let get = request.method == "GET"
        let post = request.method == "POST"
        do throws(SimulatorError) {
            switch path {
            case "/_sim", "/_sim/health":
                return json(200, .object([("status", .string("ok")), ("accounts", .number(String(accounts.count)))]))
            case "/_sim/truth" where get:
                return json(200, truthDocument())
            case "/_sim/truth/anomalies" where get:
                return json(200, .array(anomalies.map(\.json)))
            case "/_sim/accounts" where get:
                return json(200, .array(simulatedAccounts.map(Self.accountJSON)))
            case "/_sim/counters" where get:
                var list: [JSONValue] = []
                for a in accounts { list.append(try counter(account: a.name).json) }
                return json(200, .array(list))
            case "/_sim/counters/reset" where post:
                try resetCounters(account: string("account"))
                return json(200, .object([("reset", .bool(true))]))
            case _ where get && path.hasPrefix("/_sim/counters/"):
                return json(200, try counter(account: String(path.dropFirst("/_sim/counters/".count))).json)
            case "/_sim/requests" where get:
                var entries = requestLog(limit: Int(number("limit") ?? 1000))
                if let account = string("account") { entries = entries.filter { $0.account == account } }
                return json(200, .array(entries.map(\.json)))
            case "/_sim/faults" where get:
                return json(200, .array(activeFaults.map(Self.faultJSON)))
            case "/_sim/faults" where post:
                guard let kindText = string("kind"), let kind = FaultKind(rawValue: kindText) else {
                    throw .invalidOption("'kind' must be one of \(FaultKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let rate = number("rate") ?? 1
                guard (0...1).contains(rate) else { throw .invalidOption("'rate' must be in 0...1") }
                let count = number("count").map { Int($0) }
                if let c = count, c <= 0 { throw .invalidOption("'count' must be positive") }
                let methods = body["methods"]?.arrayValue.map { Set($0.compactMap(\.stringValue)) }
                let rule = FaultRule(kind: kind, rate: rate, count: count, methods: methods)
                addFault(rule)
                return json(200, Self.faultJSON(rule))
            case "/_sim/faults" where request.method == "DELETE", "/_sim/faults/clear" where post:
                var kind: FaultKind? = nil
                if let k = string("kind") {
                    guard let parsed = FaultKind(rawValue: k) else { throw .invalidOption("unknown fault kind '\(k)'") }
                    kind = parsed
                }
                clearFaults(kind: kind)
                return json(200, .array(activeFaults.map(Self.faultJSON)))
            case "/_sim/activity" where post:
                guard let account = string("account") else { throw .invalidOption("'account' is required") }
                let n = try addActivity(account: account, trades: Int(number("trades") ?? 1))
                return json(200, .object([("ledger_entries_added", .number(String(n)))]))
            case "/_sim/plant" where post:
                guard let account = string("account"), let kind = string("kind") else {
                    throw .invalidOption("'account' and 'kind' are required")
                }
                let planted = try plantNow(account: account, kind: kind)
                return json(200, .array(planted.map(\.json)))
            case "/_sim/inject" where post:
                guard let account = string("account"), let error = string("error") else {
                    throw .invalidOption("'account' and 'error' are required")
                }
                try inject(account: account, error: error, count: Int(number("count") ?? 1))
                return json(200, .object([("armed", .bool(true))]))
            case "/_sim/permissions" where post:
                guard let account = string("account"), let list = body["permissions"]?.arrayValue else {
                    throw .invalidOption("'account' and a 'permissions' array are required")
                }
                try setPermissions(account: account, list.compactMap(\.stringValue))
                return json(200, .object([("permissions", .array(list))]))
            case "/_sim/clock" where get:
                return json(200, clockJSON())
            case "/_sim/clock" where post:
                if let offset = number("offset_seconds") { setClockOffset(offset) }
                if let advance = number("advance_monotonic_seconds") { advanceMonotonicClock(by: advance) }
                return json(200, clockJSON())
            case "/_sim/reset" where post:
                reset()
                return json(200, .object([("reset", .bool(true))]))
            case _ where path == "/_sim/address-book" || path.hasPrefix("/_sim/address-book/"):
                return json(200, try addressBookControl(method: request.method, path: path, field: string))
            case _ where path.hasPrefix("/_sim/keys/"): return controlKeys(request, path: path)
            case _ where path.hasPrefix("/_sim/ledger/"):
                return json(200, try ledgerControl(method: request.method, path: path, field: string))
            case "/_sim/order": return json(200, try orderControl(method: request.method, field: string))
            case _ where path.hasPrefix("/_sim/ws/"):
                return json(200, try webSocketControl(method: request.method, path: path, field: { body[$0]?.numberText ?? string($0) }))
            default:
                return json(404, .object([("error", .string("unknown control endpoint \(request.method) \(path)"))]))
            }
        } catch {
            let status = if case .unknownAccount = error { 404 } else { 400 }
            return json(status, .object([("error", .string(error.description))]))
        }
    }

    private func json(_ status: Int, _ value: JSONValue) -> SimHTTPResponse {
        .respond(status: status, contentType: "application/json", body: Array((value.jsonText + "\n").utf8), delay: 0)
    }

    private func clockJSON() -> JSONValue {
        .object([
            ("now", .string(TimeFormat.iso(ticks: nowTicks()))), ("offset_seconds", .number(String(clockOffset))),
            ("monotonic_advance_seconds", .number(String(monotonicAdvance))),
        ])
    }

    static func accountJSON(_ a: SimulatedAccount) -> JSONValue {
        .object([
            ("account", .string(a.name)), ("api_key", .string(a.apiKey)), ("secret", .string(a.secret)),
            ("permissions", .array(a.permissions.map(JSONValue.string))),
        ])
    }

    static func faultJSON(_ r: FaultRule) -> JSONValue {
        .object([
            ("kind", .string(r.kind.rawValue)), ("rate", .number(String(r.rate))),
            ("count", r.count.map { .number(String($0)) } ?? .null),
            ("methods", r.methods.map { .array($0.sorted().map(JSONValue.string)) } ?? .null),
        ])
    }
}
