import AuditConfig
import Foundation
import TestSupport
import Testing

/// Issue 14 item 3: every number of the configuration is finite and inside its documented range, or the load
/// fails with a ConfigError naming the key path; never a trap later (SIGILL in FoundationNetworking for
/// `timeout_seconds = inf`, "Double value cannot be converted to Int" for `renotify_after_hours = inf`).
@Suite struct NumericKeyTests {
    static let account = "[[account]]\nname = \"a\"\napi_key_env = \"K\"\napi_secret_env = \"S\"\n"
    static let second = "[[account]]\nname = \"b\"\napi_key_env = \"K\"\napi_secret_env = \"S\"\n"

    /// A config with `key = literal` in its table; `index` picks the first or second `[[account]]`.
    static func config(_ key: NumericKey, literal: String, index: Int = 0) -> (text: String, path: String) {
        switch key.table {
        case "account":
            let line = "\(key.name) = \(literal)\n"
            return index == 0 ? (account + line + second, "account[0].\(key.name)") : (account + second + line, "account[1].\(key.name)")
        case "account.rate_limit":
            let line = "rate_limit = { \(key.name) = \(literal) }\n"
            return index == 0
                ? (account + line + second, "account[0].rate_limit.\(key.name)")
                : (account + second + line, "account[1].rate_limit.\(key.name)")
        case "alerts":
            return (account + "[alerts]\nhook = \"/bin/true\"\n\(key.name) = \(literal)\n", "alerts.\(key.name)")
        case "database", "ops", "watch":
            return (account + "[\(key.table)]\n\(key.name) = \(literal)\n", "\(key.table).\(key.name)")
        default:
            Issue.record("no config template for table \(key.table): add one")
            return ("", "")
        }
    }

    /// The value the loaded configuration holds for `key` (of the account at `index`).
    static func loaded(_ key: NumericKey, _ c: AuditConfiguration, index: Int) -> Double? {
        switch key {
        case .accountTimeout: return c.accounts[index].timeoutSeconds
        case .accountMaxResponse: return Double(c.accounts[index].maxResponseBytes) / 1_048_576
        case .rateLimitMax: return c.accounts[index].rateLimit.max
        case .rateLimitDecay: return c.accounts[index].rateLimit.decayPerSecond
        case .alertsTimeout: return c.alerts?.timeoutSeconds
        case .renotifyAfterHours: return c.alerts?.renotifyAfterHours
        case .databaseMaxConnections: return Double(c.database.maxConnections)
        case .maxConcurrentAccounts: return Double(c.ops.maxConcurrentAccounts)
        case .watchGroupSeconds: return c.watch.groupSeconds
        default:
            Issue.record("no accessor for \(key): add one")
            return nil
        }
    }

    func outcome(_ text: String) -> Result<AuditConfiguration, ConfigError> {
        do { return .success(try ConfigLoader.parse(text, path: "fuzz.toml")) } catch { return .failure(error) }
    }

    // MARK: the review's reproductions

    @Test(arguments: [
        (NumericKey.accountTimeout, "inf"), (.accountTimeout, "1e300"), (.accountTimeout, "nan"), (.accountTimeout, "-inf"),
        (.accountTimeout, "0"), (.accountTimeout, "3601"), (.renotifyAfterHours, "inf"), (.renotifyAfterHours, "1e300"),
        (.renotifyAfterHours, "-1"), (.renotifyAfterHours, "1.5"), (.renotifyAfterHours, "8761"), (.alertsTimeout, "inf"),
        (.rateLimitMax, "inf"), (.rateLimitDecay, "0"), (.rateLimitDecay, "nan"), (.accountMaxResponse, "0"),
        (.accountMaxResponse, "1025"), (.accountMaxResponse, "32.5"), (.accountMaxResponse, "inf"),
    ])
    func reviewValuesAreConfigErrorsNamingTheKey(key: NumericKey, literal: String) {
        let (text, path) = Self.config(key, literal: literal, index: 1)
        guard case .failure(.invalidValue(let p, let reason)) = outcome(text) else {
            Issue.record("\(key) = \(literal) was not refused as an invalid value: \(outcome(text))")
            return
        }
        #expect(p == path)
        #expect(reason.contains(key.rangeText), "\(reason)")
    }

    @Test func defaultsAndGoodValues() throws {
        let c = try ConfigLoader.parse(Self.account + "[alerts]\nhook = \"/bin/true\"\n", path: "k.toml")
        #expect(c.accounts[0].timeoutSeconds == 30)
        #expect(c.accounts[0].maxResponseBytes == 32 << 20)
        #expect(c.alerts?.renotifyAfterHours == 24)
        let d = try ConfigLoader.parse(
            Self.account
                + "max_response_mib = 1024\ntimeout_seconds = 0.5e1\n[alerts]\nhook = \"/bin/true\"\nrenotify_after_hours = 24.0\n",
            path: "k.toml")
        #expect(d.accounts[0].maxResponseBytes == 1 << 30)
        #expect(d.accounts[0].timeoutSeconds == 5)
        #expect(d.alerts?.renotifyAfterHours == 24)
    }

    @Test func wrongTypesNameTheKey() {
        guard case .failure(.wrongType(let p, let expected, _)) = outcome(Self.account + "max_response_mib = \"32\"\n") else {
            Issue.record("a string was accepted")
            return
        }
        #expect(p == "account[0].max_response_mib")
        #expect(expected == "a whole number")
    }

    @Test func everyNumericKeyHasItsRangeOnce() {
        #expect(Set(NumericKey.all.map(\.description)).count == NumericKey.all.count)
        for key in NumericKey.all {
            #expect(key.range.lowerBound.isFinite && key.range.upperBound.isFinite)
            #expect(key.range.lowerBound >= 0)
        }
    }

    // MARK: property test

    /// A candidate value: its TOML text and, when it is a number, the number it denotes.
    struct Candidate {
        let literal: String
        let value: Double?
        /// Whether TOML may refuse the text itself (integers beyond 64 bits).
        var mayBeSyntaxError = false
    }

    /// TOML for a double: `inf`/`nan` spelled as TOML does, others with an exponent or a point so TOML reads a float.
    static func float(_ d: Double) -> Candidate {
        if d.isNaN { return Candidate(literal: "nan", value: d) }
        if d.isInfinite { return Candidate(literal: d < 0 ? "-inf" : "inf", value: d) }
        var text = "\(d)"
        if !text.contains(".") && !text.contains("e") { text += ".0" }
        return Candidate(literal: text, value: d)
    }

    static func integer(_ i: Int64) -> Candidate { Candidate(literal: String(i), value: Double(i)) }

    static func candidates(for key: NumericKey, rng: inout SplitMix) -> [Candidate] {
        let lo = key.range.lowerBound
        let hi = key.range.upperBound
        let step = key.kind == .integer ? 1.0 : max(hi * 1e-9, 1e-6)
        var out: [Candidate] = [
            float(.nan), float(.infinity), float(-.infinity), Candidate(literal: "+inf", value: .infinity),
            Candidate(literal: "-nan", value: .nan), float(1e300), float(-1e300), float(.greatestFiniteMagnitude),
            float(.leastNonzeroMagnitude), float(0), float(-0.0), integer(0), integer(-1), integer(Int64.max), integer(Int64.min),
            float(0.5), float(1.5), float(lo), float(hi), float(lo - step), float(hi + step), float(lo + 0.5), float(hi - 0.5),
            float(lo.nextDown), float(hi.nextUp), integer(Int64(lo)), integer(Int64(hi)), integer(Int64(lo) - 1), integer(Int64(hi) + 1),
            Candidate(literal: "99999999999999999999", value: 1e20, mayBeSyntaxError: true),
            Candidate(literal: "\"30\"", value: nil), Candidate(literal: "true", value: nil), Candidate(literal: "[1]", value: nil),
        ]
        for _ in 0..<30 {
            switch rng.next() % 5 {
            case 0: out.append(float(lo + (hi - lo) * rng.unit()))  // inside, usually fractional
            case 1: out.append(integer(Int64(lo) + Int64(rng.next() % UInt64(hi - lo + 1))))  // inside, whole
            case 2: out.append(float(hi * (1 + rng.unit() * 1000) + 1))  // above
            case 3: out.append(float(-(rng.unit() * 1e6)))  // negative
            default: out.append(float(pow(10, rng.unit() * 600 - 300) * (rng.next() % 2 == 0 ? 1 : -1)))  // any magnitude
            }
        }
        return out
    }

    /// What the loader must do with `value` for `key`.
    static func acceptable(_ key: NumericKey, _ value: Double) -> Bool {
        value.isFinite && key.range.contains(value) && (key.kind == .number || value == value.rounded())
    }

    @Test func randomValuesForEveryNumericKeyLoadOrFailWithTheKeyPath() {
        var rng = SplitMix(seed: 0x6B72_616B_1403)
        var cases = 0
        for key in NumericKey.all {
            for c in Self.candidates(for: key, rng: &rng) {
                let index = Int(rng.next() % 2)
                let (text, path) = Self.config(key, literal: c.literal, index: index)
                cases += 1
                switch outcome(text) {
                case .success(let config):
                    guard let v = c.value, Self.acceptable(key, v) else {
                        Issue.record("\(key) = \(c.literal) was accepted")
                        continue
                    }
                    let held = Self.loaded(key, config, index: key.table.hasPrefix("account") ? index : 0)
                    #expect(held == v, "\(key) = \(c.literal) loaded as \(String(describing: held))")
                case .failure(.invalidValue(let p, _)), .failure(.wrongType(let p, _, _)):
                    #expect(p == path, "\(key) = \(c.literal): error names \(p)")
                    if let v = c.value, Self.acceptable(key, v) { Issue.record("\(key) = \(c.literal) was refused") }
                case .failure(.syntax) where c.mayBeSyntaxError:
                    break
                case .failure(let other):
                    Issue.record("\(key) = \(c.literal): unexpected \(other)")
                }
            }
        }
        #expect(cases >= 200)
    }
}
