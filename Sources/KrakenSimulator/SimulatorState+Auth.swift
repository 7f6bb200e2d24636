import AuditKernel
import Foundation
import KrakenAPI

/// Authentication and authorisation of private calls: key, lockout, nonce, signature, OTP, permissions and the
/// rate counter, in the order Kraken checks them (../shared/kraken-api.md).
extension SimulatorState {

    /// Parses the body by Content-Type: JSON members or form fields, as strings.
    static func parseBody(_ request: SimHTTPRequest) -> Params? {
        let contentType = request.headers["content-type"]?.lowercased() ?? ""
        if contentType.hasPrefix("application/json") {
            guard let value = try? JSONValue.parse(request.body), let members = value.objectMembers else { return nil }
            return Params(
                values: members.map { k, v in
                    switch v {
                    case .string(let s): (k, s)
                    case .number(let n): (k, n)
                    case .bool(let b): (k, b ? "true" : "false")
                    case .array(let a): (k, a.map { $0.stringValue ?? $0.jsonText }.joined(separator: ","))
                    default: (k, v.jsonText)
                    }
                })
        }
        guard let text = String(validating: request.body, as: UTF8.self), let pairs = FormEncoding.decode(text) else { return nil }
        return Params(values: pairs)
    }

    private func noteFailure(_ presentedKey: String, now: Double) {
        var l = lockouts[presentedKey] ?? LockoutState()
        l.failures += 1
        if l.failures >= options.lockoutThreshold { l.lockedUntil = now + options.lockoutSeconds }
        lockouts[presentedKey] = l
    }

    func privateCall(method: String, request: SimHTTPRequest, nonce: inout UInt64?) -> CallAnswer {
        guard PrivateMethods.implemented.contains(method) || PrivateMethods.known[method] != nil else {
            return CallAnswer(errorEnvelope(["EGeneral:Unknown method"]))
        }
        guard request.method == "POST" else { return CallAnswer(errorEnvelope(["EGeneral:Unknown method"])) }
        let presented = request.headers["api-key"] ?? ""
        let now = monotonicNow()
        if var l = lockouts[presented], let until = l.lockedUntil {
            if now < until {
                if options.lockoutExtends { l.lockedUntil = now + options.lockoutSeconds; lockouts[presented] = l }
                if let i = keyIndex[presented] {
                    accounts[i].key.decay(now: now, perSecond: decayPerSecond)
                    accounts[i].key.calls += 1
                    accounts[i].key.charge(options.costs[method] ?? options.defaultCost)
                }
                return CallAnswer(errorEnvelope(["EGeneral:Temporary lockout"]))
            }
            lockouts[presented] = LockoutState()
        }
        guard let index = keyIndex[presented] else {
            noteFailure(presented, now: now)
            return CallAnswer(errorEnvelope(["EAPI:Invalid key"]))
        }
        let a = accounts[index]
        let cost = options.costs[method] ?? options.defaultCost
        a.key.decay(now: now, perSecond: decayPerSecond)
        a.key.calls += 1
        a.key.highestNonceBefore = a.key.highestNonce
        a.key.lastUsedBefore = a.key.lastUsed
        a.key.lastUsed = nowTicks() / 10_000
        func fail(_ error: String, lockoutStreak: Bool) -> JSONValue {
            a.key.charge(cost)
            if lockoutStreak { noteFailure(presented, now: now) }
            return errorEnvelope([error])
        }
        guard let params = Self.parseBody(request) else { return CallAnswer(fail("EAPI:Bad request", lockoutStreak: false)) }
        guard let nonceText = params["nonce"], nonceText.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt64(nonceText) else {
            return CallAnswer(fail("EAPI:Invalid nonce", lockoutStreak: true))
        }
        nonce = n
        let expected = a.key.signer.sign(path: request.path, nonce: n, body: request.body)
        guard let given = request.headers["api-sign"], Self.constantTimeEqual(expected, given) else {
            return CallAnswer(fail("EAPI:Invalid signature", lockoutStreak: true))
        }
        if let i = activeInjection(for: a), armed[i].plan.rule == .nonceErrors {
            serveInjection(i, method: method)
            return CallAnswer(fail(armed[i].plan.error, lockoutStreak: true))
        }
        guard a.key.accept(nonce: n) else { return CallAnswer(fail("EAPI:Invalid nonce", lockoutStreak: true)) }
        if let otp = a.key.otp {
            guard let sent = params["otp"] else { return CallAnswer(fail("EGeneral:Permission denied", lockoutStreak: false)) }
            guard sent == otp else { return CallAnswer(fail("EAPI:Invalid signature", lockoutStreak: true)) }
        }
        if let i = activeInjection(for: a) {
            serveInjection(i, method: method)
            return CallAnswer(fail(armed[i].plan.error, lockoutStreak: false))
        }
        guard PrivateMethods.rule(for: method, strict: options.strictPermissions).allows(a.key.permissions) else {
            return CallAnswer(fail("EGeneral:Permission denied", lockoutStreak: false))
        }
        if a.key.counter + cost > maxCounter {
            a.key.rateLimited += 1
            return CallAnswer(fail("EAPI:Rate limit exceeded", lockoutStreak: false))
        }
        a.key.charge(cost)
        lockouts[presented] = nil
        let result = dispatch(method: method, params: params, account: a)
        if result.envelope["error"]?.arrayValue?.isEmpty ?? false { a.key.successfulCalls += 1 }
        return result
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
