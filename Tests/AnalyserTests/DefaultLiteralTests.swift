import Analyser
import AuditConfig
import Foundation
import Testing

/// Issue 16 part 6: a rule header's parameter default (`-- param: name type DEFAULT | ...`) is read by TOMLKit, as
/// the same text in `[rules.<id>]` is, instead of by a hand-written parser.
@Suite("Rule parameter defaults")
struct DefaultLiteralTests {
    @Test(arguments: [
        ("3", ConfigValue.integer(3)),
        ("1.5", .float(1.5)),
        ("true", .bool(true)),
        (#""Mon-Fri""#, .string("Mon-Fri")),
        (#""say \"hi\"""#, .string(#"say "hi""#)),
        ("[]", .array([])),
        (#"["run", "collect"]"#, .array([.string("run"), .string("collect")])),
        ("{}", .table([:])),
        (#"{ XXBT = "2.5", ZUSD = 50000 }"#, .table(["XXBT": .string("2.5"), "ZUSD": .integer(50000)])),
        ("[2026-12-25]", .array([.date("2026-12-25")])),
    ])
    func literalsParseAsInTheConfigurationFile(literal: String, value: ConfigValue) {
        #expect(ConfigValue(tomlLiteral: literal) == value)
    }

    @Test(arguments: ["", "three", #""open"#, "[1,", "{ a = 1, }", "1 2", "3\nother = 4", "99999999999999999999"])
    func nonLiteralsAreRefused(literal: String) {
        #expect(ConfigValue(tomlLiteral: literal) == nil)
    }

    @Test func aRuleWithABadDefaultNamesTheLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-default-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let rule = """
            -- id: my_rule
            -- title: Test rule
            -- severity: low
            -- entity: account
            -- param: names strings ["a", | A list.
            -- catches: things
            -- false positives: none
            SELECT :'names'
            """
        try Data(rule.utf8).write(to: dir.appendingPathComponent("my_rule.sql"))
        #expect {
            _ = try RuleCatalogue(directory: dir)
        } throws: { error in
            "\(error)".contains("my_rule.sql:5") && "\(error)".contains("is not a TOML value")
        }
    }
}
