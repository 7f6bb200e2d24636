import Foundation

/// Turns a Grafana PostgreSQL panel's raw SQL into the statement Grafana sends, in Grafana's two steps:
///
/// 1. The frontend interpolates template variables (`$var`, `${var}`, `[[var]]`) the way the PostgreSQL data
///    source formats them: a multi-value or include-All variable becomes a list of quoted literals
///    (`'a','b'`, quotes doubled), a single-value variable its value with quotes doubled but unquoted. Unknown
///    names (Grafana's own `$__...` macros) are left alone.
/// 2. The backend expands `$__unixEpochFrom()`/`$__unixEpochTo()` and then its macros
///    (`pkg/tsdb/grafana-postgresql-datasource/macros.go`): `$__time`, `$__timeEpoch`, `$__timeFilter`,
///    `$__timeFrom`, `$__timeTo`, `$__timeGroup`, `$__timeGroupAlias`, `$__unixEpochFilter`,
///    `$__unixEpochGroup(Alias)`. Times are RFC 3339 in UTC; intervals are seconds printed like Go's `%v`.
///
/// Anything else that starts with `$` after expansion (`$__interval`, `${var:csv}`, an unknown macro) is an
/// error, so a dashboard cannot depend on something this test does not reproduce.
struct GrafanaSQL {
    struct Variable {
        let name: String
        /// Selected values (all options for "All").
        let values: [String]
        /// multi or includeAll: formatted as a quoted list.
        let isMulti: Bool
    }

    struct ExpansionError: Error, CustomStringConvertible {
        let description: String
    }

    let from: Date
    let to: Date
    let variables: [String: Variable]

    func expand(_ sql: String) throws -> String {
        let interpolated = try interpolateVariables(sql)
        var s =
            interpolated
            .replacingOccurrences(of: "$__unixEpochFrom()", with: String(Int64(from.timeIntervalSince1970.rounded(.down))))
            .replacingOccurrences(of: "$__unixEpochTo()", with: String(Int64(to.timeIntervalSince1970.rounded(.down))))
        s = try expandMacros(s)
        if let leftover = s.range(of: #"\$[A-Za-z_{\[]"#, options: .regularExpression) {
            throw ExpansionError(description: "unexpanded '\(s[leftover.lowerBound...].prefix(30))' in: \(s)")
        }
        return s
    }

    // MARK: - template variables (frontend)

    func interpolateVariables(_ sql: String) throws -> String {
        let regex = try NSRegularExpression(
            pattern: #"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}"#)
        let ns = sql as NSString
        var result = ""
        var last = 0
        for match in regex.matches(in: sql, range: NSRange(location: 0, length: ns.length)) {
            result += ns.substring(with: NSRange(location: last, length: match.range.location - last))
            last = match.range.location + match.range.length
            func group(_ i: Int) -> String? {
                let r = match.range(at: i)
                return r.location == NSNotFound ? nil : ns.substring(with: r)
            }
            let name = group(1) ?? group(2) ?? group(4) ?? ""
            guard let variable = variables[name] else {
                result += ns.substring(with: match.range)  // not a variable: Grafana leaves it
                continue
            }
            if group(3) != nil || group(5) != nil || group(6) != nil {
                throw ExpansionError(description: "variable format/field syntax is not reproduced here: \(ns.substring(with: match.range))")
            }
            result += format(variable)
        }
        result += ns.substring(from: last)
        return result
    }

    func format(_ v: Variable) -> String {
        func escaped(_ s: String) -> String { s.replacingOccurrences(of: "'", with: "''") }
        if v.isMulti { return v.values.map { "'\(escaped($0))'" }.joined(separator: ",") }
        return escaped(v.values.first ?? "")
    }

    // MARK: - macros (backend)

    func expandMacros(_ sql: String) throws -> String {
        let regex = try NSRegularExpression(pattern: #"\$([_a-zA-Z0-9]+)\(([^\)]*)\)"#)
        let ns = sql as NSString
        var result = ""
        var last = 0
        for match in regex.matches(in: sql, range: NSRange(location: 0, length: ns.length)) {
            result += ns.substring(with: NSRange(location: last, length: match.range.location - last))
            last = match.range.location + match.range.length
            var name = ns.substring(with: match.range(at: 1))
            let args = ns.substring(with: match.range(at: 2)).split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            // Grafana < 5.3 compatibility: `$__timeGroup(...)` directly followed by ',' gets the alias.
            if name == "__timeGroup", last < ns.length, ns.substring(with: NSRange(location: last, length: 1)) == "," {
                name = "__timeGroupAlias"
            }
            result += try evaluate(name, args)
        }
        result += ns.substring(from: last)
        return result
    }

    func evaluate(_ name: String, _ args: [String]) throws -> String {
        func column() throws -> String {
            guard let c = args.first, !c.isEmpty else {
                throw ExpansionError(description: "missing time column argument for macro \(name)")
            }
            return c
        }
        switch name {
        case "__time": return "\(try column()) AS \"time\""
        case "__timeEpoch": return "extract(epoch from \(try column())) as \"time\""
        case "__timeFilter": return "\(try column()) BETWEEN '\(Self.rfc3339(from))' AND '\(Self.rfc3339(to))'"
        case "__timeFrom": return "'\(Self.rfc3339(from))'"
        case "__timeTo": return "'\(Self.rfc3339(to))'"
        case "__timeGroup", "__timeGroupAlias":
            guard args.count >= 2 else { throw ExpansionError(description: "macro \(name) needs time column and interval") }
            let seconds = try Self.intervalSeconds(args[1])
            let group = "floor(extract(epoch from \(args[0]))/\(Self.goFloat(seconds)))*\(Self.goFloat(seconds))"
            return name == "__timeGroupAlias" ? group + " AS \"time\"" : group
        case "__unixEpochFilter":
            let c = try column()
            return "\(c) >= \(Int64(from.timeIntervalSince1970)) AND \(c) <= \(Int64(to.timeIntervalSince1970))"
        case "__unixEpochGroup", "__unixEpochGroupAlias":
            guard args.count >= 2 else { throw ExpansionError(description: "macro \(name) needs time column and interval") }
            let seconds = try Self.intervalSeconds(args[1])
            let group = "floor((\(args[0]))/\(Self.goFloat(seconds)))*\(Self.goFloat(seconds))"
            return name == "__unixEpochGroupAlias" ? group + " AS \"time\"" : group
        default:
            throw ExpansionError(description: "unknown macro \"\(name)\"")
        }
    }

    /// Go's `time.RFC3339Nano` in UTC: `2026-11-01T00:00:00Z`, fractional seconds without trailing zeros.
    static func rfc3339(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let whole = date.timeIntervalSince1970.rounded(.down)
        var fraction = String(format: "%.3f", date.timeIntervalSince1970 - whole).dropFirst(1)  // ".123"
        while fraction.hasSuffix("0") { fraction = fraction.dropLast() }
        if fraction == "." { fraction = "" }
        return f.string(from: Date(timeIntervalSince1970: whole)) + fraction + "Z"
    }

    /// gtime.ParseInterval for the units dashboards use: ms, s, m, h, d, w.
    static func intervalSeconds(_ literal: String) throws -> Double {
        let text = literal.trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800)]
        for (unit, factor) in units where text.hasSuffix(unit) {
            if let n = Double(text.dropLast(unit.count)) { return n * factor }
        }
        throw ExpansionError(description: "error parsing interval \(literal)")
    }

    /// A float64 as Go's `%v` prints it (shortest 'g', exponent form from 1e+06 on): 3600, 86400, 604800, 1e+06, 0.5.
    static func goFloat(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e21 {
            let digits = String(Int64(value.magnitude))
            if digits.count < 7 { return (value < 0 ? "-" : "") + digits }
            var mantissa = digits
            while mantissa.hasSuffix("0") { mantissa.removeLast() }
            let rest = mantissa.dropFirst()
            let exponent = digits.count - 1
            return (value < 0 ? "-" : "") + String(mantissa.prefix(1)) + (rest.isEmpty ? "" : "." + rest)
                + "e+" + (exponent < 10 ? "0" : "") + String(exponent)
        }
        return "\(value)"
    }
}
