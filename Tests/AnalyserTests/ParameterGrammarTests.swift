import Analyser
import AuditConfig
import Foundation
import TestSupport
import Testing

/// Issue 14 item 4: a rule parameter the rule's SQL cannot take is a configuration error when the configuration is
/// loaded (key path named), never a rule failing at run time (`new_asset_severity = "High"` used to pass and then
/// fail the findings CHECK on every run; `"½"` passed `Character.isNumber`; integers were unbounded).
@Suite("Rule parameter grammar")
struct ParameterGrammarTests {
    func outcome(_ rules: String) throws -> Result<[RuleSettings], ConfigError> {
        let config = try Fixture.config(rules: rules)
        do { return .success(try ruleSettings(catalogue: Fixture.catalogue, config: config.rules)) } catch { return .failure(error) }
    }

    static let nearMisses: [(String, String, String)] = [
        // (rule, key = value, the error's key path)
        ("unexpected_withdrawal", #"new_asset_severity = "High""#, "new_asset_severity"),
        ("unexpected_withdrawal", #"new_asset_severity = "HIGH""#, "new_asset_severity"),
        ("unexpected_withdrawal", #"new_asset_severity = "urgent""#, "new_asset_severity"),
        ("unexpected_withdrawal", #"new_asset_severity = """#, "new_asset_severity"),
        ("unexpected_withdrawal", #"new_asset_severity = "off ""#, "new_asset_severity"),
        ("unexpected_withdrawal", #"new_asset_severity = 3"#, "new_asset_severity"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "½" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "١٢" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "１２" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "²" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "1e5" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "1.2.3" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "-1" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "+1" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = ".5" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "5." }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "1,5" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "0x10" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "1_000" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "123456789012345678901" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "1.1234567890123456789" }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = 1e20 }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = inf }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = nan }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = -2 }"#, "max_amount.XXBT"),
        ("unexpected_withdrawal", #"velocity_24h = { XXBT = "½" }"#, "velocity_24h.XXBT"),
        ("unexpected_withdrawal", #"history_factor = inf"#, "history_factor"),
        ("unexpected_withdrawal", #"history_factor = nan"#, "history_factor"),
        ("unexpected_withdrawal", #"history_factor = 1e300"#, "history_factor"),
        ("unexpected_withdrawal", #"history_factor = -0.5"#, "history_factor"),
        ("unexpected_withdrawal", #"history_size = 9223372036854775807"#, "history_size"),
        ("unexpected_withdrawal", #"history_size = 2147483648"#, "history_size"),
        ("unexpected_withdrawal", #"max_count_24h = 1000001"#, "max_count_24h"),
        ("unexpected_withdrawal", #"max_count_24h = 2.0"#, "max_count_24h"),
        ("ledger_gap", #"tolerance = "½""#, "tolerance"),
        ("ledger_gap", #"tolerance = "١٢""#, "tolerance"),
        ("key_rotation_due", #"rotate_after_days = 1000001"#, "rotate_after_days"),
        ("key_rotation_due", #"rotate_after_days = -1"#, "rotate_after_days"),
        ("key_rotation_due", #"rotate_after_days = -9223372036854775808"#, "rotate_after_days"),
        ("nonce_errors", #"window_minutes = 0"#, "window_minutes"),
        ("nonce_errors", #"window_minutes = 2147483647"#, "window_minutes"),
        ("trade_size_outlier", #"min_ratio = 0"#, "min_ratio"),
        ("trade_size_outlier", #"max_robust_z = inf"#, "max_robust_z"),
        ("trade_size_outlier", #"min_trades = 5"#, "min_trades"),  // not a parameter of the rule
        ("off_hours_trading", #"holidays = ["0000-01-01"]"#, "holidays[0]"),
        ("off_hours_trading", #"holidays = ["+202-01-01"]"#, "holidays[0]"),
        ("off_hours_trading", #"holidays = ["２０２６-01-01"]"#, "holidays[0]"),
        ("off_hours_trading", #"business_hours = "+8:00-18:00""#, "business_hours"),
        ("off_hours_trading", #"business_hours = "٠٨:00-18:00""#, "business_hours"),
        ("stale_collection", #"max_age_hours = 1e3"#, "max_age_hours"),
        ("new_pair_or_asset", #"severity = "High""#, "severity"),
    ]

    @Test(arguments: nearMisses)
    func nearMissesAreConfigErrorsWithTheKeyPath(rule: String, line: String, key: String) throws {
        guard case .failure(let error) = try outcome("[rules.\(rule)]\n\(line)\n") else {
            Issue.record("[rules.\(rule)] \(line) was accepted")
            return
        }
        let path: String
        switch error {
        case .invalidValue(let p, _), .wrongType(let p, _, _), .unknownKey(let p): path = p
        default:
            Issue.record("unexpected \(error)")
            return
        }
        #expect(path == "rules.\(rule).\(key)", "\(error)")
    }

    @Test func theSeverityErrorSaysWhatIsAllowed() throws {
        guard case .failure(let error) = try outcome("[rules.unexpected_withdrawal]\nnew_asset_severity = \"High\"\n") else {
            Issue.record("accepted")
            return
        }
        #expect(error.description.contains("rules.unexpected_withdrawal.new_asset_severity"))
        #expect(error.description.contains("info, low, medium, high, critical, off"))
        #expect(error.description.contains("lower case"))
    }

    static let goodValues: [(String, String, String, String)] = [
        // (rule, key = value, parameter, its bind text)
        ("unexpected_withdrawal", #"new_asset_severity = "info""#, "new_asset_severity", "info"),
        ("unexpected_withdrawal", #"new_asset_severity = "critical""#, "new_asset_severity", "critical"),
        ("unexpected_withdrawal", #"new_asset_severity = "off""#, "new_asset_severity", "off"),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "2.5" }"#, "max_amount", #"{"XXBT":"2.5"}"#),
        ("unexpected_withdrawal", #"max_amount = { XXBT = " 2.5 " }"#, "max_amount", #"{"XXBT":"2.5"}"#),
        ("unexpected_withdrawal", #"max_amount = { XXBT = "0" }"#, "max_amount", #"{"XXBT":"0"}"#),
        ("unexpected_withdrawal", #"max_amount = { XXBT = 2.5, ZUSD = 50000 }"#, "max_amount", #"{"XXBT":"2.5","ZUSD":"50000"}"#),
        (
            "unexpected_withdrawal", #"max_amount = { ZUSD = "12345678901234567890.123456789012345678" }"#, "max_amount",
            #"{"ZUSD":"12345678901234567890.123456789012345678"}"#
        ),
        ("unexpected_withdrawal", #"history_factor = 0"#, "history_factor", "0.0"),
        ("unexpected_withdrawal", #"history_factor = 1000000"#, "history_factor", "1000000.0"),
        ("unexpected_withdrawal", #"history_size = 1000000"#, "history_size", "1000000"),
        ("unexpected_withdrawal", #"max_count_24h = 0"#, "max_count_24h", "0"),
        ("ledger_gap", #"tolerance = "0.0000000001""#, "tolerance", "0.0000000001"),
        ("key_rotation_due", #"rotate_after_days = 3650"#, "rotate_after_days", "3650"),
        ("trade_size_outlier", #"min_ratio = 0.001"#, "min_ratio", "0.001"),
        ("trade_size_outlier", #"min_ratio = 1.5"#, "min_ratio", "1.5"),
        ("off_hours_trading", #"holidays = ["0001-01-01", 2026-12-25]"#, "holidays", #"{"0001-01-01","2026-12-25"}"#),
    ]

    @Test(arguments: goodValues)
    func goodValuesAreAccepted(rule: String, line: String, parameter: String, bind: String) throws {
        let settings = try outcome("[rules.\(rule)]\n\(line)\n").get()
        let s = try #require(settings.first { $0.rule.id == rule })
        #expect(s.binds[parameter] == bind)
    }

    /// The `severity` values are exactly what `audit.findings.severity`'s CHECK allows, plus `off`.
    @Test func severityValuesMatchTheFindingsCheck() throws {
        let migrations = TestDatabase.sqlDirectory.appendingPathComponent("migrations")
        var allowed: [String]? = nil
        for name in try FileManager.default.contentsOfDirectory(atPath: migrations.path).sorted() {
            let text = try String(contentsOf: migrations.appendingPathComponent(name), encoding: .utf8)
            guard let table = text.range(of: "CREATE TABLE audit.findings") else { continue }
            let rest = text[table.upperBound...]
            let check = try #require(
                rest.range(of: #"severity\s+text NOT NULL CHECK \(severity IN \(([^)]*)\)\)"#, options: .regularExpression))
            let list = rest[check].drop(while: { $0 != "(" }).dropFirst().drop(while: { $0 != "(" }).dropFirst().prefix(while: { $0 != ")" }
            )
            allowed = list.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " '")) }
        }
        let values = try #require(allowed)
        #expect(values == Severity.allCases.map(\.rawValue))
        #expect(RuleSeverity.allCases.map(\.rawValue) == values + ["off"])
        #expect(RuleSeverity.allCases.compactMap(\.severity) == Severity.allCases)
    }

    /// Every shipped rule's `severity` parameters and every default are valid under the new grammar.
    @Test func shippedDefaultsAreValid() throws {
        let settings = try outcome("").get()
        let withdrawal = try #require(settings.first { $0.rule.id == "unexpected_withdrawal" })
        #expect(withdrawal.rule.parameter("new_asset_severity")?.type == .severity)
        let outlier = try #require(settings.first { $0.rule.id == "trade_size_outlier" })
        #expect(outlier.rule.parameter("min_ratio")?.type == .positiveNumber)
    }
}
