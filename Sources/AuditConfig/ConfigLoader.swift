import Foundation
import KrakenAPI
import TOMLKit

/// Reads and validates `kraken-audit.toml`.
public enum ConfigLoader {
    /// Search order: `explicit` (`--config`), `$KRAKEN_AUDIT_CONFIG`, `./kraken-audit.toml`,
    /// `/etc/kraken-audit/kraken-audit.toml`.
    public static func locate(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigError) -> String
    {
        if let explicit, !explicit.isEmpty {
            guard FileManager.default.fileExists(atPath: explicit) else { throw .fileNotFound(searched: [explicit]) }
            return explicit
        }
        var candidates: [String] = []
        if let env = environment["KRAKEN_AUDIT_CONFIG"], !env.isEmpty {
            guard FileManager.default.fileExists(atPath: env) else { throw .fileNotFound(searched: ["$KRAKEN_AUDIT_CONFIG=\(env)"]) }
            return env
        }
        candidates.append("./kraken-audit.toml")
        candidates.append("/etc/kraken-audit/kraken-audit.toml")
        for c in candidates where FileManager.default.fileExists(atPath: c) { return c }
        throw .fileNotFound(searched: candidates)
    }

    /// Loads the file at `path`.
    public static func load(path: String) throws(ConfigError) -> AuditConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadable(path: path, reason: "permission denied or not a file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path, reason: "not UTF-8 text")
        }
        return try parse(text, path: path)
    }

    /// Parses configuration text (`path` is used in messages).
    public static func parse(_ text: String, path: String) throws(ConfigError) -> AuditConfiguration {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw .syntax(
                path: path, line: error.source.begin.line, column: error.source.begin.column,
                message: error.description)
        } catch {
            throw .syntax(path: path, line: 0, column: 0, message: "\(error)")
        }
        let root = Node(table: table, path: "")
        try root.allowOnly(["database", "account", "alerts", "ops", "rules", "integrity", "watch"])

        var database = DatabaseConfig(url: nil)
        if let db = try root.table("database") {
            try db.allowOnly(["url", "max_connections"])
            database.url = try db.string("url")
            database.maxConnections = try db.integer(.databaseMaxConnections) ?? 8
        }

        var ops = OpsConfig(pingURL: nil, timezone: "UTC")
        if let o = try root.table("ops") {
            try o.allowOnly(["ping_url", "timezone", "max_concurrent_accounts"])
            ops.pingURL = try o.string("ping_url")
            ops.maxConcurrentAccounts = try o.integer(.maxConcurrentAccounts) ?? 64
            if let tz = try o.string("timezone") {
                guard TimeZone(identifier: tz) != nil else {
                    throw .invalidValue(path: o.key("timezone"), reason: "'\(tz)' is not an IANA time zone (e.g. Europe/Berlin)")
                }
                ops.timezone = tz
            }
            if let url = ops.pingURL {
                do { _ = try BaseURL.validate(url) } catch {
                    throw .invalidValue(path: o.key("ping_url"), reason: error.description)
                }
            }
        }

        var accounts: [AccountConfig] = []
        for account in try root.tableArray("account") {
            accounts.append(try parseAccount(account, defaultTimezone: ops.timezone))
        }
        var seen = Set<String>()
        for a in accounts {
            if !seen.insert(a.name).inserted { throw .duplicateAccount(name: a.name) }
        }

        var alerts: AlertsConfig? = nil
        if let al = try root.table("alerts") {
            try al.allowOnly(["hook", "min_severity", "timeout_seconds", "renotify_after_hours", "notify_resolved"])
            guard let hook = try al.string("hook") else { throw .missingKey(path: al.key("hook")) }
            let severity = try al.string("min_severity") ?? "medium"
            guard Severity.allCases.map(\.rawValue).contains(severity) else {
                throw .invalidValue(
                    path: al.key("min_severity"),
                    reason: "'\(severity)' is not one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let timeout = try al.number(.alertsTimeout) ?? 30
            let renotify = Double(try al.integer(.renotifyAfterHours) ?? 24)
            alerts = AlertsConfig(
                hook: hook, minSeverity: severity, timeoutSeconds: timeout, renotifyAfterHours: renotify,
                notifyResolved: try al.bool("notify_resolved") ?? false)
        }

        var watch = WatchConfig()
        if let w = try root.table("watch") {
            try w.allowOnly(["group_seconds"])
            watch.groupSeconds = try w.number(.watchGroupSeconds) ?? 0
        }

        let integrity = try root.table("integrity").map { (node) throws(ConfigError) in try parseIntegrity(node) }

        var rules: [String: ConfigTable] = [:]
        if let r = try root.table("rules") {
            for key in r.table.keys {
                guard let sub = try r.table(key) else { continue }
                rules[key] = ConfigTable(path: sub.path, values: convert(sub.table))
            }
        }
        return AuditConfiguration(
            path: path, database: database, accounts: accounts, alerts: alerts, ops: ops, rules: rules, integrity: integrity, watch: watch)
    }

    /// `[integrity]`: `signing_key_file` and `digest_dir` are required (non-empty), `hook` must be an absolute path
    /// (it is started without a shell or PATH search), `verify_full_every_days` a whole number of days.
    static func parseIntegrity(_ node: Node) throws(ConfigError) -> IntegrityConfig {
        try node.allowOnly(["signing_key_file", "digest_dir", "hook", "verify_full_every_days"])
        func path(_ key: String, required: Bool) throws(ConfigError) -> String? {
            guard let value = try node.string(key) else {
                if required { throw .missingKey(path: node.key(key)) }
                return nil
            }
            guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw .invalidValue(path: node.key(key), reason: "must be a path, not an empty string")
            }
            return value
        }
        let signingKeyFile = try path("signing_key_file", required: true)!
        let digestDir = try path("digest_dir", required: true)!
        let hook = try path("hook", required: false)
        if let hook, !hook.hasPrefix("/") {
            throw .invalidValue(path: node.key("hook"), reason: "'\(hook)' must be an absolute path such as /usr/local/bin/copy-digest")
        }
        return IntegrityConfig(
            signingKeyFile: signingKeyFile, digestDir: digestDir, hook: hook,
            verifyFullEveryDays: try node.integer(.verifyFullEveryDays) ?? 7)
    }

    static func parseAccount(_ a: Node, defaultTimezone: String) throws(ConfigError) -> AccountConfig {
        try a.allowOnly([
            "name", "api_key_env", "api_key_file", "api_secret_env", "api_secret_file", "api_secret_command",
            "otp_env", "otp_file", "api_url", "tier", "rate_limit", "key_created", "timeout_seconds", "max_response_mib", "timezone",
            "backfill", "ws_url",
        ])
        guard let name = try a.string("name") else { throw .missingKey(path: a.key("name")) }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw .invalidValue(path: a.key("name"), reason: "'\(name)' must be non-empty letters, digits, '-', '_' or '.'")
        }
        let apiKey = try secretSource(a, env: "api_key_env", file: "api_key_file", command: nil, required: true)!
        let secret = try secretSource(
            a, env: "api_secret_env", file: "api_secret_file", command: "api_secret_command", required: true)!
        let otp = try secretSource(a, env: "otp_env", file: "otp_file", command: nil, required: false)
        let url = try a.string("api_url") ?? "https://api.kraken.com"
        do { _ = try BaseURL.validate(url) } catch { throw .invalidValue(path: a.key("api_url"), reason: error.description) }
        let wsURL = try a.string("ws_url") ?? AccountConfig.defaultWebSocketURL
        do { _ = try BaseURL.validateWebSocket(wsURL) } catch { throw .invalidValue(path: a.key("ws_url"), reason: error.description) }
        var tier = Tier.starter
        if let t = try a.string("tier") {
            guard let parsed = Tier(rawValue: t.lowercased()) else {
                throw .invalidValue(path: a.key("tier"), reason: "'\(t)' is not one of starter, intermediate, pro")
            }
            tier = parsed
        }
        var limit = tier.rateLimit
        if let rl = try a.table("rate_limit") {
            try rl.allowOnly(["max", "decay_per_second"])
            if let m = try rl.number(.rateLimitMax) { limit.max = m }
            if let d = try rl.number(.rateLimitDecay) { limit.decayPerSecond = d }
        }
        let keyCreated = try a.date("key_created")
        let timeout = try a.number(.accountTimeout) ?? 30
        let maxResponseMiB = try a.integer(.accountMaxResponse) ?? 32
        let timezone = try a.string("timezone") ?? defaultTimezone
        guard TimeZone(identifier: timezone) != nil else {
            throw .invalidValue(path: a.key("timezone"), reason: "'\(timezone)' is not an IANA time zone (e.g. Europe/Berlin)")
        }
        var backfill: BackfillMode? = nil
        if let b = try a.string("backfill") {
            guard let mode = BackfillMode(rawValue: b) else {
                throw .invalidValue(path: a.key("backfill"), reason: "'\(b)' is not one of export, paging")
            }
            backfill = mode
        }
        return AccountConfig(
            name: name, apiKey: apiKey, apiSecret: secret, otp: otp, apiURL: url, tier: tier, rateLimit: limit,
            keyCreated: keyCreated, timeoutSeconds: timeout, maxResponseBytes: maxResponseMiB << 20, timezone: timezone,
            backfill: backfill, webSocketURL: wsURL)
    }

    static func secretSource(_ a: Node, env: String, file: String, command: String?, required: Bool)
        throws(ConfigError) -> SecretSource?
    {
        var found: [SecretSource] = []
        var names: [String] = []
        if let v = try a.string(env) { found.append(.env(v)); names.append(env) }
        if let f = try a.string(file) { found.append(.file(f)); names.append(file) }
        if let command, let c = try a.stringArray(command) {
            guard !c.isEmpty, !c[0].isEmpty else {
                throw .invalidValue(path: a.key(command), reason: "must be a non-empty array such as [\"pass\", \"kraken/main\"]")
            }
            found.append(.command(c))
            names.append(command)
        }
        if found.count > 1 {
            throw .invalidValue(path: a.key(names[1]), reason: "set only one of \(names.joined(separator: ", "))")
        }
        if found.isEmpty, required {
            let options = [env, file] + (command.map { [$0] } ?? [])
            throw .missingKey(path: a.key(options.joined(separator: " | ")))
        }
        return found.first
    }

    static func convert(_ table: TOMLTable) -> [String: ConfigValue] {
        var out: [String: ConfigValue] = [:]
        for key in table.keys {
            if let v = table[key], let c = convert(v) { out[key] = c }
        }
        return out
    }

    static func convert(_ v: any TOMLValueConvertible) -> ConfigValue? {
        switch v.type {
        case .string: return v.string.map(ConfigValue.string)
        case .int: return v.int.map(ConfigValue.integer)
        case .double: return v.double.map(ConfigValue.float)
        case .bool: return v.bool.map(ConfigValue.bool)
        case .date: return v.date.map { .date(String(format: "%04d-%02d-%02d", $0.year, $0.month, $0.day)) }
        case .array: return v.array.map { .array($0.compactMap { convert($0) }) }
        case .table: return v.table.map { .table(convert($0)) }
        case .time, .dateTime: return v.debugDescription.isEmpty ? nil : .string(v.debugDescription)
        }
    }
}

/// Finding severities, lowest first.
public enum Severity: String, Sendable, CaseIterable, Comparable {
    case info, low, medium, high, critical

    public static func < (a: Severity, b: Severity) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A TOML table with its key path, for messages such as `account[2].tier`.
struct Node {
    let table: TOMLTable
    let path: String

    func key(_ k: String) -> String { path.isEmpty ? k : "\(path).\(k)" }

    func allowOnly(_ allowed: Set<String>) throws(ConfigError) {
        for k in table.keys.sorted() where !allowed.contains(k) { throw .unknownKey(path: key(k)) }
    }

    private func typeName(_ v: any TOMLValueConvertible) -> String {
        switch v.type {
        case .string: return "a string"
        case .int: return "an integer"
        case .double: return "a number"
        case .bool: return "a boolean"
        case .date: return "a date"
        case .time: return "a time"
        case .dateTime: return "a date-time"
        case .array: return "an array"
        case .table: return "a table"
        }
    }

    func string(_ k: String) throws(ConfigError) -> String? {
        guard let v = table[k] else { return nil }
        guard let s = v.string else { throw .wrongType(path: key(k), expected: "a string", found: typeName(v)) }
        return s
    }

    func bool(_ k: String) throws(ConfigError) -> Bool? {
        guard let v = table[k] else { return nil }
        guard v.type == .bool, let b = v.bool else {
            throw .wrongType(path: key(k), expected: "true or false", found: typeName(v))
        }
        return b
    }

    /// Integer or float.
    func number(_ k: String) throws(ConfigError) -> Double? {
        guard let v = table[k] else { return nil }
        if v.type == .int, let i = v.int { return Double(i) }
        if v.type == .double, let d = v.double { return d }
        throw .wrongType(path: key(k), expected: "a number", found: typeName(v))
    }

    /// The numeric key `spec` of this table, finite and inside the key's range (see ``NumericKey``).
    func number(_ spec: NumericKey) throws(ConfigError) -> Double? {
        guard let v = try number(spec.name) else { return nil }
        return try spec.validate(v, path: key(spec.name))
    }

    /// The whole-number key `spec` of this table (a float is accepted only without a fraction, e.g. `24.0`).
    func integer(_ spec: NumericKey) throws(ConfigError) -> Int? {
        guard let v = table[spec.name] else { return nil }
        guard v.type == .int || v.type == .double else {
            throw .wrongType(path: key(spec.name), expected: "a whole number", found: typeName(v))
        }
        guard let d = try number(spec) else { return nil }
        // In range, hence far inside Int: the conversion cannot trap.
        return Int(d)
    }

    /// A TOML date (`2026-01-15`) or a string holding one; returned as `YYYY-MM-DD`.
    func date(_ k: String) throws(ConfigError) -> String? {
        guard let v = table[k] else { return nil }
        if v.type == .date, let d = v.date {
            return String(format: "%04d-%02d-%02d", d.year, d.month, d.day)
        }
        if let s = v.string {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.timeZone = TimeZone(identifier: "UTC")
            f.dateFormat = "yyyy-MM-dd"
            guard s.count == 10, f.date(from: s) != nil else {
                throw .invalidValue(path: key(k), reason: "'\(s)' is not a date like 2026-01-15")
            }
            return s
        }
        throw .wrongType(path: key(k), expected: "a date like 2026-01-15", found: typeName(v))
    }

    func stringArray(_ k: String) throws(ConfigError) -> [String]? {
        guard let v = table[k] else { return nil }
        guard let a = v.array else { throw .wrongType(path: key(k), expected: "an array of strings", found: typeName(v)) }
        var out: [String] = []
        for (i, e) in a.enumerated() {
            guard let s = e.string else {
                throw .wrongType(path: "\(key(k))[\(i)]", expected: "a string", found: typeName(e))
            }
            out.append(s)
        }
        return out
    }

    func table(_ k: String) throws(ConfigError) -> Node? {
        guard let v = table[k] else { return nil }
        guard let t = v.table else { throw .wrongType(path: key(k), expected: "a table", found: typeName(v)) }
        return Node(table: t, path: key(k))
    }

    /// `[[k]]` entries (an array of tables); a single `[k]` table is reported as the wrong type.
    func tableArray(_ k: String) throws(ConfigError) -> [Node] {
        guard let v = table[k] else { return [] }
        guard let a = v.array else {
            throw .wrongType(path: key(k), expected: "an array of tables ([[\(k)]])", found: typeName(v))
        }
        var out: [Node] = []
        for (i, e) in a.enumerated() {
            guard let t = e.table else {
                throw .wrongType(path: "\(key(k))[\(i)]", expected: "a table", found: typeName(e))
            }
            out.append(Node(table: t, path: "\(key(k))[\(i)]"))
        }
        return out
    }
}
