import Analyser
import AuditConfig
import Foundation
import TestSupport
import Testing

@Suite("Catalogue and parameters")
struct CatalogueTests {
    @Test func shippedRulesLoadWithCompleteHeaders() throws {
        let catalogue = try RuleCatalogue(directory: TestDatabase.sqlDirectory.appendingPathComponent("rules"))
        #expect(
            catalogue.rules.map(\.id) == [
                "api_error_burst", "audit_tampered", "key_changed", "key_posture", "key_rotation_due", "key_used_elsewhere", "ledger_gap",
                "new_pair_or_asset", "nonce_errors", "off_hours_trading", "source_mismatch",
                "stale_collection", "trade_size_outlier", "unexpected_withdrawal", "withdrawal_address_changed",
            ])
        for rule in catalogue.rules {
            #expect(!rule.catches.isEmpty && !rule.falsePositives.isEmpty && !rule.title.isEmpty)
            #expect(rule.placeholders.contains("account_id"), "\(rule.id) must scope by account")
            for name in rule.placeholders {
                #expect(!rule.statement.contains(":'\(name)'"), "\(rule.id) has an unreplaced placeholder")
            }
            #expect(!rule.statement.hasSuffix(";"))
        }
        let offHours = try #require(catalogue.rule("off_hours_trading"))
        #expect(offHours.parameters.map(\.name) == ["timezone", "business_hours", "business_days", "holidays", "withdrawal_severity"])
        #expect(offHours.parameter("business_hours")?.defaultValue == .string("08:00-18:00"))
    }

    func catalogue(with body: String, name: String = "my_rule") throws -> Result<RuleCatalogue, AnalyserError> {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(body.utf8).write(to: dir.appendingPathComponent("\(name).sql"))
        do { return .success(try RuleCatalogue(directory: dir)) } catch { return .failure(error) }
    }

    static let header = """
        -- id: my_rule
        -- title: Test rule
        -- severity: low
        -- entity: account
        -- param: limit integer 3 | A limit.
        -- catches: things
        -- false positives: none

        """

    @Test func placeholdersBecomeBindsOutsideStringsAndComments() throws {
        let sql =
            Self.header + """
                -- a comment with :'ignored'
                SELECT :'account_id'::integer AS a, 'EService:' || ':''x''' AS s, $q$:'no'$q$ AS d, :'limit'::integer AS l,
                       :'account_id'::integer + 1 AS b, '{}'::jsonb ? 'k' AS j, 1::int AS c;
                -- trailing comment
                """
        let rule = try catalogue(with: sql).get().rules[0]
        #expect(rule.placeholders == ["account_id", "limit"])
        #expect(rule.statement.contains("SELECT $1::integer AS a, 'EService:' || ':''x''' AS s, $q$:'no'$q$ AS d, $2::integer AS l"))
        #expect(rule.statement.contains("$1::integer + 1 AS b"))
        #expect(rule.statement.contains("-- a comment with :'ignored'"))
    }

    @Test(arguments: [
        ("SELECT :'nope'::integer, :'limit'", "placeholder :'nope'"),
        ("SELECT $1, :'limit'", "not $n parameters"),
        ("SELECT :'limit'; DELETE FROM audit.findings", "exactly one SELECT"),
        ("SELECT 1", "never uses :'limit'"),
    ])
    func malformedRulesAreRefused(body: String, message: String) throws {
        let result = try catalogue(with: Self.header + body)
        guard case .failure(let error) = result else {
            Issue.record("accepted: \(body)")
            return
        }
        #expect(error.description.contains(message), "\(error)")
    }

    @Test func headerProblemsNameTheFile() throws {
        let noSeverity = Self.header.replacingOccurrences(of: "-- severity: low\n", with: "") + "SELECT :'limit'"
        guard case .failure(let e1) = try catalogue(with: noSeverity) else { Issue.record("accepted"); return }
        #expect(e1.description.contains("my_rule.sql") && e1.description.contains("severity"))
        guard case .failure(let e2) = try catalogue(with: Self.header + "SELECT :'limit'", name: "other_name") else {
            Issue.record("accepted"); return
        }
        #expect(e2.description.contains("must match the file name"))
        let badType = Self.header.replacingOccurrences(of: "limit integer 3", with: "limit integer \"three\"") + "SELECT :'limit'"
        guard case .failure(let e3) = try catalogue(with: badType) else { Issue.record("accepted"); return }
        #expect(e3.description.contains(":5"))
    }

    // MARK: config validation

    func configError(_ rules: String) throws -> ConfigError? {
        do {
            _ = try Analyser(config: try Fixture.config(rules: rules), catalogue: Fixture.catalogue, logger: TestDatabase.logger)
            return nil
        } catch let AnalyserError.config(error) {
            return error
        }
    }

    @Test func unknownRulesAndParametersAreRefusedWithTheirKeyPath() throws {
        #expect(try configError("[rules.off_hours]\nenabled = false\n") == .unknownKey(path: "rules.off_hours"))
        #expect(
            try configError("[rules.off_hours_trading]\nbusiness_hour = \"08:00-18:00\"\n")
                == .unknownKey(path: "rules.off_hours_trading.business_hour"))
    }

    @Test(arguments: [
        ("[rules.off_hours_trading]\nbusiness_hours = 8\n", "rules.off_hours_trading.business_hours"),
        ("[rules.off_hours_trading]\nbusiness_hours = \"18:00-08:00\"\n", "rules.off_hours_trading.business_hours"),
        ("[rules.off_hours_trading]\nbusiness_days = \"Mon-Fry\"\n", "rules.off_hours_trading.business_days"),
        ("[rules.off_hours_trading]\ntimezone = \"Mars/Olympus\"\n", "rules.off_hours_trading.timezone"),
        ("[rules.off_hours_trading]\nholidays = [\"2026-02-30\"]\n", "rules.off_hours_trading.holidays[0]"),
        ("[rules.unexpected_withdrawal]\nallowlist = { XXBT = [1] }\n", "rules.unexpected_withdrawal.allowlist.XXBT[0]"),
        ("[rules.unexpected_withdrawal]\nmax_amount = { XXBT = \"lots\" }\n", "rules.unexpected_withdrawal.max_amount.XXBT"),
        ("[rules.nonce_errors]\nmin_errors = -1\n", "rules.nonce_errors.min_errors"),
        ("[rules.nonce_errors]\nwindow_minutes = 0\n", "rules.nonce_errors.window_minutes"),
        ("[rules.nonce_errors]\nenabled = \"no\"\n", "rules.nonce_errors.enabled"),
        ("[rules.nonce_errors]\nseverity = \"urgent\"\n", "rules.nonce_errors.severity"),
    ])
    func badValuesAreRefusedWithTheirKeyPath(rules: String, path: String) throws {
        let error = try #require(try configError(rules))
        switch error {
        case .wrongType(let p, _, _), .invalidValue(let p, _): #expect(p == path, "\(error)")
        default: Issue.record("unexpected \(error)")
        }
    }

    @Test func validValuesAreAccepted() throws {
        let rules = """
            [rules.off_hours_trading]
            timezone = "America/New_York"
            business_hours = "07:30-19:00"
            business_days = "Sun-Thu"
            holidays = [2026-12-25, "2026-12-31"]
            [rules.unexpected_withdrawal]
            allowlist = { XXBT = ["bc1qa35ls3egf0872h3w"], XETH = { address = "0x9f2c11ab9f2c11ab9f2c11ab9f2c11ab9f2c11ab", name = "cold-wallet" } }
            max_amount = { XXBT = "2.5", ZUSD = 50000 }
            """
        #expect(try configError(rules) == nil)
        let settings = try ruleSettings(catalogue: Fixture.catalogue, config: try Fixture.config(rules: rules).rules)
        let offHours = try #require(settings.first { $0.rule.id == "off_hours_trading" })
        #expect(offHours.binds["business_days"] == "{1,2,3,4,7}")
        #expect(offHours.binds["holidays"] == "{\"2026-12-25\",\"2026-12-31\"}")
        #expect(offHours.timezone(forAccount: "Europe/Berlin") == "America/New_York")
        let withdrawal = try #require(settings.first { $0.rule.id == "unexpected_withdrawal" })
        #expect(
            withdrawal.binds["allowlist"]
                == "{\"XETH\":[{\"address\":\"0x9f2c11ab9f2c11ab9f2c11ab9f2c11ab9f2c11ab\",\"name\":\"cold-wallet\"}],\"XXBT\":[{\"address\":\"bc1qa35ls3egf0872h3w\",\"name\":null}]}"
        )
        #expect(withdrawal.binds["max_amount"] == "{\"XXBT\":\"2.5\",\"ZUSD\":\"50000\"}")
    }
}
