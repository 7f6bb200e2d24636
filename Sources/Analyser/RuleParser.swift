import AuditConfig
import Foundation

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
            throw .badRuleFile(
                path: path, line: fields["id"]?.line ?? 0, problem: "id '\(id)' must match the file name '\(expectedId).sql'")
        }
        let severityText = try required("severity")
        guard let severity = Severity(rawValue: severityText) else {
            throw .badRuleFile(
                path: path, line: fields["severity"]?.line ?? 0,
                problem: "severity '\(severityText)' is not one of info, low, medium, high, critical")
        }
        let inputText = fields["input"]?.value ?? RuleInput.collected.rawValue
        guard let input = RuleInput(rawValue: inputText) else {
            throw .badRuleFile(
                path: path, line: fields["input"]?.line ?? 0,
                problem: "input '\(inputText)' is not one of \(RuleInput.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let resolvesText = fields["resolves"]?.value ?? RuleResolution.manually.rawValue
        guard let resolves = RuleResolution(rawValue: resolvesText) else {
            throw .badRuleFile(
                path: path, line: fields["resolves"]?.line ?? 0,
                problem: "resolves '\(resolvesText)' is not one of \(RuleResolution.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var seen = Set<String>()
        for p in parameters {
            guard seen.insert(p.name).inserted else {
                throw .badRuleFile(path: path, line: 0, problem: "parameter '\(p.name)' is declared twice")
            }
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
            throw .badRuleFile(
                path: path, line: 0,
                problem:
                    "placeholder :'\(name)' is neither a declared parameter nor one of \(Rule.standardPlaceholders.sorted().joined(separator: ", "))"
            )
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
            throw .badRuleFile(
                path: path, line: line,
                problem: "unknown parameter type '\(tokens[1])' (one of \(ParameterType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let literal = String(tokens[2])
        guard let value = ConfigValue(tomlLiteral: literal) else {
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
