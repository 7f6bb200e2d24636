import AuditConfig
import AuditStore
import Foundation

/// The type of a rule parameter: how a `[rules.<id>]` value is validated and how it is passed to the SQL.
///
/// Every value is checked when the configuration is loaded, so a value the rule's SQL cannot take (out of its
/// integer type, a `timestamp - interval` out of range, a division by zero, a severity the findings CHECK refuses)
/// is a configuration error (exit 78) and never a rule failing at run time.
public enum ParameterType: String, Sendable, CaseIterable {
    /// Whole number from 0 to ``maximumInteger`` (passed as `::integer`; also used as days, hours and minutes
    /// before `now`, which must stay inside PostgreSQL's timestamp range).
    case integer
    /// Whole number from 1 to ``maximumInteger``.
    case positiveInteger = "positive_integer"
    /// Finite number from 0 to ``maximumNumber`` (a factor or threshold; never money).
    case number
    /// Finite number from ``minimumPositiveNumber`` to ``maximumNumber`` (a divisor: `1 / :'min_ratio'`).
    case positiveNumber = "positive_number"
    /// Exact non-negative decimal: ASCII digits with at most one `.` (a string such as "2.5", or a TOML
    /// integer/float written as such), at most ``decimalIntegerDigits`` digits before the point and
    /// ``decimalFractionDigits`` after it.
    case decimal
    case bool
    /// Any string without a NUL character (PostgreSQL text cannot hold one).
    case string
    /// A finding severity (`info`, `low`, `medium`, `high`, `critical`, the values the findings table's CHECK
    /// allows) or `off`.
    case severity
    /// Array of strings, passed as a PostgreSQL `text[]` literal.
    case strings
    /// IANA time zone name, or `account` for the account's own `timezone`.
    case timezone
    /// `"HH:MM-HH:MM"`, start before end.
    case hoursRange = "hours_range"
    /// `"Mon-Fri"`, `"Mon,Wed,Sat-Sun"` or an array of day names; passed as ISO day numbers (Monday = 1).
    case weekdays
    /// Array of dates (`2026-12-25`), passed as a `date[]` literal.
    case dates
    /// Table of asset → array of strings (`{XXBT = ["bc1q..."]}`), passed as JSON.
    case assetStrings = "asset_strings"
    /// Table of asset → exact decimal (`{XXBT = "2.5"}`), passed as JSON with string values.
    case assetDecimals = "asset_decimals"
    /// Table of asset → withdrawal destinations, each a destination address (`"bc1q..."`) or a table
    /// `{ address = "bc1q...", name = "cold-wallet" }` when the address-book name must match too. A bare string
    /// must have an address's shape (``DestinationShape``): an address-book name alone is refused, because whoever
    /// took over the account chooses the names. Passed as JSON `{"XXBT": [{"address": "...", "name": null}]}`.
    case destinations

    /// Largest `integer`/`positive_integer`: inside PostgreSQL's `integer`, and as days before now (about
    /// 2,700 years) still inside its timestamp range.
    public static let maximumInteger = 1_000_000
    /// Largest `number`/`positive_number`.
    public static let maximumNumber = 1_000_000.0
    /// Smallest `positive_number`.
    public static let minimumPositiveNumber = 0.001
    /// Digits a `decimal` may have before its point and after it (amounts; Kraken uses at most 10 decimals).
    public static let decimalIntegerDigits = 20
    public static let decimalFractionDigits = 18

    /// What the type expects, for messages and `kraken-audit rules`.
    public var expectation: String {
        switch self {
        case .integer: return "a whole number from 0 to \(Self.maximumInteger)"
        case .positiveInteger: return "a whole number from 1 to \(Self.maximumInteger)"
        case .number: return "a number from 0 to \(Int(Self.maximumNumber))"
        case .positiveNumber: return "a number from \(Self.minimumPositiveNumber) to \(Int(Self.maximumNumber))"
        case .decimal:
            return "a decimal number such as \"2.5\" (ASCII digits and one '.', at most \(Self.decimalIntegerDigits) digits before the point and \(Self.decimalFractionDigits) after it)"
        case .bool: return "true or false"
        case .string: return "a string"
        case .severity: return "one of \(RuleSeverity.allCases.map(\.rawValue).joined(separator: ", "))"
        case .strings: return "an array of strings"
        case .timezone: return "an IANA time zone such as \"Europe/Berlin\" (or \"account\")"
        case .hoursRange: return "a time range such as \"08:00-18:00\""
        case .weekdays: return "days such as \"Mon-Fri\" or [\"Mon\", \"Tue\"]"
        case .dates: return "an array of dates such as [\"2026-12-25\"]"
        case .assetStrings: return "a table of asset = [\"...\"] such as {XXBT = [\"bc1q...\"]}"
        case .assetDecimals: return "a table of asset = \"decimal\" such as {XXBT = \"2.5\"}"
        case .destinations:
            return "a table of asset = [destination addresses] such as {XXBT = [\"bc1q...\"]}, an entry may be { address = \"...\", name = \"...\" } when the address-book name must match too"
        }
    }
}

/// One declared parameter of a rule (`-- param:` header line).
public struct RuleParameter: Sendable, Equatable {
    public let name: String
    public let type: ParameterType
    /// The default, as written in the header (a TOML literal).
    public let defaultLiteral: String
    /// The default, parsed.
    public let defaultValue: ConfigValue
    public let description: String
}

/// What a rule reads, which decides when it may run (`-- input:` header line).
public enum RuleInput: String, Sendable, CaseIterable {
    /// Kraken's rows as the collector stores them (ledger, trades, orders, funding): consistent only once a collection
    /// of the account completed, so the rule waits while the account's latest collection run failed or is running.
    case collected
    /// kraken-audit's own records (call log, collection runs, keys), complete even for a failed run: always runs.
    case callLog = "call_log"
}

/// How a rule's findings get resolved (`-- resolves:` header line).
public enum RuleResolution: String, Sendable, CaseIterable {
    /// By an analyst (`kraken-audit findings resolve`): the finding is about an event that happened.
    case manually
    /// Also by the analyser: the rule checks a state and returns every condition that holds for the account on
    /// each run, so a finding of the account it no longer returns is resolved automatically (see ``Analyser``).
    case whenAbsent = "when_absent"
}

/// One rule: a `sql/rules/<id>.sql` file with its parsed header and its SQL ready to bind.
public struct Rule: Sendable {
    public let id: String
    public let title: String
    /// The rule's default (usually highest) severity; individual findings may be lower.
    public let severity: Severity
    /// What a finding is about (withdrawal, trade, order, ledger, api_key, account).
    public let entity: String
    /// What the rule reads (`-- input:`, default `collected`).
    public let input: RuleInput
    public let parameters: [RuleParameter]
    /// What the rule catches.
    public let catches: String
    /// Known false positives.
    public let falsePositives: String
    /// The file's path.
    public let path: String
    /// The file's text, as analysts run it with psql.
    public let source: String
    /// The statement with `:'name'` placeholders replaced by `$1`, `$2`, ... (trailing semicolon removed).
    public let statement: String
    /// Placeholder names in `$n` order (`placeholders[0]` is `$1`).
    public let placeholders: [String]
    /// How its findings are resolved (`-- resolves:`, default `manually`).
    public let resolves: RuleResolution

    /// Placeholders every rule may use without declaring them.
    public static let standardPlaceholders: Set<String> = ["account_id", "changed_after", "occurred_after", "now", "timezone"]
    /// Parameters every rule accepts in `[rules.<id>]` besides its declared ones.
    public static let universalParameters: Set<String> = ["enabled", "severity"]

    /// The declared parameter called `name`.
    public func parameter(_ name: String) -> RuleParameter? { parameters.first { $0.name == name } }
}

/// The rules in `sql/rules`, sorted by id.
public struct RuleCatalogue: Sendable {
    public let rules: [Rule]
    public let directory: URL

    /// Loads every `*.sql` file of `directory` (the `rules` folder).
    public init(directory: URL) throws(AnalyserError) {
        self.directory = directory
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw .rulesUnreadable(path: directory.path, reason: error.localizedDescription)
        }
        var rules: [Rule] = []
        var byId: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".sql") {
            let path = directory.appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw .rulesUnreadable(path: path, reason: "cannot read the file as UTF-8 text")
            }
            let rule = try RuleParser.parse(text: text, path: path, expectedId: String(name.dropLast(4)))
            if let other = byId[rule.id] { throw .duplicateRule(id: rule.id, paths: [other, path]) }
            byId[rule.id] = path
            rules.append(rule)
        }
        guard !rules.isEmpty else { throw .rulesUnreadable(path: directory.path, reason: "no *.sql rule files") }
        self.rules = rules.sorted { $0.id < $1.id }
    }

    /// Loads the rules from `<sql directory>/rules`, locating the SQL directory like the migrations do.
    public static func locate(sqlDirectory: String? = nil) throws(AnalyserError) -> RuleCatalogue {
        let dir: URL
        do {
            dir = try SQLDirectory.locate(explicit: sqlDirectory)
        } catch {
            throw .rulesUnreadable(path: sqlDirectory ?? "sql", reason: "\(error)")
        }
        return try RuleCatalogue(directory: dir.appendingPathComponent("rules"))
    }

    /// The rule called `id`.
    public func rule(_ id: String) -> Rule? { rules.first { $0.id == id } }
}


/// Parses rule files: the `--` header and the `:'name'` placeholders.
enum RuleParser {
    static func parse(text: String, path: String, expectedId: String) throws(AnalyserError) -> Rule {
        var fields: [String: (value: String, line: Int)] = [:]
        var parameters: [RuleParameter] = []
        var lastKey: String? = nil
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, raw) in lines.enumerated() {
            let lineNo = index + 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { lastKey = nil; continue }
            guard line.hasPrefix("--") else { break }  // the header ends at the first SQL line
            let body = line.dropFirst(2)
            if body.hasPrefix("   "), let key = lastKey, key != "param" {
                // Continuation of a multi-line field.
                fields[key]!.value += " " + body.trimmingCharacters(in: .whitespaces)
                continue
            }
            let content = body.trimmingCharacters(in: .whitespaces)
            guard let colon = content.firstIndex(of: ":") else { lastKey = nil; continue }
            let key = content[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = content[content.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "param":
                parameters.append(try parseParameter(value, path: path, line: lineNo))
                lastKey = "param"
            case "id", "title", "severity", "entity", "input", "resolves", "catches", "false positives":
                if fields[key] != nil { throw .badRuleFile(path: path, line: lineNo, problem: "'\(key):' appears twice") }
                fields[key] = (value, lineNo)
                lastKey = key
            default:
                lastKey = nil  // other comments are allowed
            }
        }
        func required(_ key: String) throws(AnalyserError) -> String {
            guard let v = fields[key]?.value, !v.isEmpty else {
                throw .badRuleFile(path: path, line: 0, problem: "the header has no '-- \(key): ...' line")
            }
            return v
        }
        let id = try required("id")
        guard id == expectedId else {
            throw .badRuleFile(path: path, line: fields["id"]?.line ?? 0, problem: "id '\(id)' must match the file name '\(expectedId).sql'")
        }
        let severityText = try required("severity")
        guard let severity = Severity(rawValue: severityText) else {
            throw .badRuleFile(path: path, line: fields["severity"]?.line ?? 0, problem: "severity '\(severityText)' is not one of info, low, medium, high, critical")
        }
        let inputText = fields["input"]?.value ?? RuleInput.collected.rawValue
        guard let input = RuleInput(rawValue: inputText) else {
            throw .badRuleFile(path: path, line: fields["input"]?.line ?? 0, problem: "input '\(inputText)' is not one of \(RuleInput.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let resolvesText = fields["resolves"]?.value ?? RuleResolution.manually.rawValue
        guard let resolves = RuleResolution(rawValue: resolvesText) else {
            throw .badRuleFile(path: path, line: fields["resolves"]?.line ?? 0, problem: "resolves '\(resolvesText)' is not one of \(RuleResolution.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var seen = Set<String>()
        for p in parameters {
            guard seen.insert(p.name).inserted else { throw .badRuleFile(path: path, line: 0, problem: "parameter '\(p.name)' is declared twice") }
            guard !Rule.universalParameters.contains(p.name), p.name == "timezone" || !Rule.standardPlaceholders.contains(p.name) else {
                throw .badRuleFile(path: path, line: 0, problem: "parameter name '\(p.name)' is reserved")
            }
            if p.name == "timezone", p.type != .timezone {
                throw .badRuleFile(path: path, line: 0, problem: "parameter 'timezone' must have type timezone")
            }
        }
        let (statement, placeholders) = try rewritePlaceholders(text, path: path)
        let declared = Set(parameters.map(\.name))
        for name in placeholders where !declared.contains(name) && !Rule.standardPlaceholders.contains(name) {
            throw .badRuleFile(path: path, line: 0, problem: "placeholder :'\(name)' is neither a declared parameter nor one of \(Rule.standardPlaceholders.sorted().joined(separator: ", "))")
        }
        for p in parameters where !placeholders.contains(p.name) {
            throw .badRuleFile(path: path, line: 0, problem: "parameter '\(p.name)' is declared but the SQL never uses :'\(p.name)'")
        }
        return Rule(
            id: id, title: try required("title"), severity: severity, entity: try required("entity"), input: input,
            parameters: parameters, catches: try required("catches"), falsePositives: try required("false positives"),
            path: path, source: text, statement: statement, placeholders: placeholders, resolves: resolves)
    }

    /// `name type default | description`.
    static func parseParameter(_ text: String, path: String, line: Int) throws(AnalyserError) -> RuleParameter {
        let parts = text.components(separatedBy: " | ")
        guard parts.count >= 2 else {
            throw .badRuleFile(path: path, line: line, problem: "a parameter line needs 'name type default | description'")
        }
        let spec = parts[0].trimmingCharacters(in: .whitespaces)
        let tokens = spec.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard tokens.count == 3 else {
            throw .badRuleFile(path: path, line: line, problem: "a parameter line needs 'name type default | description'")
        }
        let name = String(tokens[0])
        guard name.first.map({ $0.isLetter || $0 == "_" }) == true, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw .badRuleFile(path: path, line: line, problem: "'\(name)' is not a valid parameter name")
        }
        guard let type = ParameterType(rawValue: String(tokens[1])) else {
            throw .badRuleFile(path: path, line: line, problem: "unknown parameter type '\(tokens[1])' (one of \(ParameterType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let literal = String(tokens[2])
        guard let value = TOMLLiteral.parse(literal) else {
            throw .badRuleFile(path: path, line: line, problem: "default '\(literal)' of '\(name)' is not a TOML value")
        }
        // The default must itself be valid for its type.
        do {
            _ = try ParameterCodec.encode(value, type: type, path: "default of \(name)")
        } catch {
            throw .badRuleFile(path: path, line: line, problem: "\(error)")
        }
        return RuleParameter(
            name: name, type: type, defaultLiteral: literal, defaultValue: value,
            description: parts.dropFirst().joined(separator: " | ").trimmingCharacters(in: .whitespaces))
    }

    /// Replaces psql-style `:'name'` placeholders outside strings, quoted identifiers and comments with `$n`
    /// (the same name always gets the same number) and removes the trailing semicolon. Refuses a second
    /// statement.
    static func rewritePlaceholders(_ sql: String, path: String) throws(AnalyserError) -> (String, [String]) {
        let s = Array(sql.unicodeScalars)
        var out = String.UnicodeScalarView()
        var names: [String] = []
        var i = 0
        var line = 1
        var sawTerminator = false
        func isIdent(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_"
        }
        while i < s.count {
            let c = s[i]
            if c == "\n" { line += 1 }
            if sawTerminator, !c.properties.isWhitespace {
                // Only comments may follow the terminating semicolon.
                if c == "-", i + 1 < s.count, s[i + 1] == "-" {
                    while i < s.count, s[i] != "\n" { i += 1 }
                    continue
                }
                throw .badRuleFile(path: path, line: line, problem: "a rule file holds exactly one SELECT statement; found more after ';'")
            }
            switch c {
            case "-" where i + 1 < s.count && s[i + 1] == "-":
                while i < s.count, s[i] != "\n" { out.append(s[i]); i += 1 }
                continue
            case "/" where i + 1 < s.count && s[i + 1] == "*":
                out.append(c); out.append(s[i + 1]); i += 2
                while i < s.count, !(s[i] == "*" && i + 1 < s.count && s[i + 1] == "/") {
                    if s[i] == "\n" { line += 1 }
                    out.append(s[i]); i += 1
                }
                if i < s.count { out.append(s[i]); out.append(s[i + 1]); i += 2 }
                continue
            case "'", "\"":
                out.append(c); i += 1
                while i < s.count {
                    if s[i] == "\n" { line += 1 }
                    out.append(s[i])
                    if s[i] == c {
                        if i + 1 < s.count, s[i + 1] == c { out.append(s[i + 1]); i += 2; continue }
                        i += 1
                        break
                    }
                    i += 1
                }
                continue
            case "$":
                // Dollar quoting: $tag$ ... $tag$ (a bare $1 parameter is not allowed in rule files).
                var j = i + 1
                while j < s.count, isIdent(s[j]), !(j == i + 1 && s[j] >= "0" && s[j] <= "9") { j += 1 }
                if j < s.count, s[j] == "$" {
                    let tag = Array(s[i...j])
                    for t in tag { out.append(t) }
                    i = j + 1
                    while i < s.count {
                        if s[i] == "$", i + tag.count <= s.count, Array(s[i..<(i + tag.count)]) == tag {
                            for t in tag { out.append(t) }
                            i += tag.count
                            break
                        }
                        if s[i] == "\n" { line += 1 }
                        out.append(s[i]); i += 1
                    }
                    continue
                }
                if i + 1 < s.count, s[i + 1] >= "0", s[i + 1] <= "9" {
                    throw .badRuleFile(path: path, line: line, problem: "use :'name' placeholders, not $n parameters")
                }
                out.append(c); i += 1
                continue
            case ":" where i + 1 < s.count && s[i + 1] == ":":
                out.append(c); out.append(s[i + 1]); i += 2
                continue
            case ":" where i + 1 < s.count && (s[i + 1] == "'" || s[i + 1] == "\""):
                var j = i + 2
                var name = ""
                while j < s.count, isIdent(s[j]) { name.unicodeScalars.append(s[j]); j += 1 }
                guard s[i + 1] == "'", !name.isEmpty, j < s.count, s[j] == "'" else {
                    throw .badRuleFile(path: path, line: line, problem: "malformed placeholder: write :'name' (letters, digits, _)")
                }
                let number: Int
                if let existing = names.firstIndex(of: name) {
                    number = existing + 1
                } else {
                    names.append(name)
                    number = names.count
                }
                out.append(contentsOf: "$\(number)".unicodeScalars)
                i = j + 1
                continue
            case ";":
                sawTerminator = true
                i += 1
                continue
            default:
                out.append(c); i += 1
            }
        }
        let statement = String(out).trimmingCharacters(in: .whitespacesAndNewlines)
        return (statement, names)
    }
}

/// The TOML literals used for defaults in rule headers: integers, floats, booleans, basic strings, arrays of
/// those, and inline tables of them.
enum TOMLLiteral {
    static func parse(_ text: String) -> ConfigValue? {
        var p = Parser(chars: Array(text.unicodeScalars))
        guard let v = p.value() else { return nil }
        p.skipSpace()
        return p.i == p.chars.count ? v : nil
    }

    struct Parser {
        let chars: [Unicode.Scalar]
        var i = 0

        mutating func skipSpace() { while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 } }

        mutating func value() -> ConfigValue? {
            skipSpace()
            guard i < chars.count else { return nil }
            switch chars[i] {
            case "\"":
                i += 1
                var s = String.UnicodeScalarView()
                while i < chars.count, chars[i] != "\"" {
                    if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                    s.append(chars[i]); i += 1
                }
                guard i < chars.count else { return nil }
                i += 1
                return .string(String(s))
            case "[":
                i += 1
                var items: [ConfigValue] = []
                skipSpace()
                if i < chars.count, chars[i] == "]" { i += 1; return .array([]) }
                while true {
                    guard let v = value() else { return nil }
                    items.append(v)
                    skipSpace()
                    guard i < chars.count else { return nil }
                    if chars[i] == "," { i += 1; skipSpace(); if i < chars.count, chars[i] == "]" { i += 1; return .array(items) }; continue }
                    if chars[i] == "]" { i += 1; return .array(items) }
                    return nil
                }
            case "{":
                i += 1
                var table: [String: ConfigValue] = [:]
                skipSpace()
                if i < chars.count, chars[i] == "}" { i += 1; return .table([:]) }
                while true {
                    skipSpace()
                    var key = String.UnicodeScalarView()
                    while i < chars.count, chars[i] != " ", chars[i] != "=" { key.append(chars[i]); i += 1 }
                    skipSpace()
                    guard !key.isEmpty, i < chars.count, chars[i] == "=" else { return nil }
                    i += 1
                    guard let v = value() else { return nil }
                    table[String(key)] = v
                    skipSpace()
                    guard i < chars.count else { return nil }
                    if chars[i] == "," { i += 1; continue }
                    if chars[i] == "}" { i += 1; return .table(table) }
                    return nil
                }
            default:
                var word = String.UnicodeScalarView()
                while i < chars.count, !",]} \t".unicodeScalars.contains(chars[i]) { word.append(chars[i]); i += 1 }
                let w = String(word)
                if w == "true" { return .bool(true) }
                if w == "false" { return .bool(false) }
                if let n = Int(w) { return .integer(n) }
                if let d = Double(w), w.contains(".") { return .float(d) }
                return nil
            }
        }
    }
}
