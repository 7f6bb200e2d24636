import AuditConfig
import Foundation

/// Converts configuration values into the text a rule's placeholder is bound to, validating them.
enum ParameterCodec {
    static let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    static func typeName(_ v: ConfigValue) -> String {
        switch v {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a number"
        case .bool: return "a boolean"
        case .date: return "a date"
        case .array: return "an array"
        case .table: return "a table"
        }
    }

    /// The bind text for `value` of `type`; `path` names the config key in errors.
    static func encode(_ value: ConfigValue, type: ParameterType, path: String) throws(ConfigError) -> String {
        func wrong() -> ConfigError { .wrongType(path: path, expected: type.expectation, found: typeName(value)) }
        switch type {
        case .integer, .positiveInteger:
            guard case .integer(let i) = value else { throw wrong() }
            let minimum = type == .integer ? 0 : 1
            guard i >= minimum, i <= ParameterType.maximumInteger else {
                throw .invalidValue(path: path, reason: "must be \(type.expectation), not \(i)")
            }
            return String(i)
        case .number, .positiveNumber:
            let d: Double
            switch value {
            case .integer(let i): d = Double(i)
            case .float(let f): d = f
            default: throw wrong()
            }
            let minimum = type == .number ? 0 : ParameterType.minimumPositiveNumber
            guard d.isFinite, d >= minimum, d <= ParameterType.maximumNumber else {
                throw .invalidValue(path: path, reason: "must be \(type.expectation), not \(d)")
            }
            return "\(d)"
        case .decimal:
            return try decimal(value, path: path, type: type)
        case .bool:
            guard case .bool(let b) = value else { throw wrong() }
            return b ? "true" : "false"
        case .string:
            guard case .string(let s) = value else { throw wrong() }
            return try text(s, path: path)
        case .severity:
            guard case .string(let s) = value else { throw wrong() }
            guard let severity = RuleSeverity(rawValue: s) else {
                let hint = RuleSeverity(rawValue: s.lowercased()).map { " (write \"\($0.rawValue)\" in lower case)" } ?? ""
                throw .invalidValue(path: path, reason: "'\(s)' is not \(type.expectation)\(hint)")
            }
            return severity.rawValue
        case .strings:
            guard case .array(let items) = value else { throw wrong() }
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item else {
                    throw .wrongType(path: "\(path)[\(i)]", expected: "a string", found: typeName(item))
                }
                out.append(try text(s, path: "\(path)[\(i)]"))
            }
            return arrayLiteral(out)
        case .timezone:
            guard case .string(let s) = value else { throw wrong() }
            guard s == "account" || TimeZone(identifier: s) != nil else {
                throw .invalidValue(path: path, reason: "'\(s)' is not an IANA time zone (e.g. Europe/Berlin)")
            }
            return s
        case .hoursRange:
            guard case .string(let s) = value else { throw wrong() }
            let parts = s.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]) else {
                throw .invalidValue(path: path, reason: "'\(s)' is not a time range like \"08:00-18:00\"")
            }
            guard start < end else {
                throw .invalidValue(
                    path: path, reason: "'\(s)': the start must be before the end (ranges across midnight are not supported)")
            }
            return "\(parts[0])-\(parts[1])"
        case .weekdays:
            var specs: [String] = []
            switch value {
            case .string(let s): specs = s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            case .array(let items):
                for (i, item) in items.enumerated() {
                    guard case .string(let s) = item else {
                        throw .wrongType(path: "\(path)[\(i)]", expected: "a day name such as \"Mon\"", found: typeName(item))
                    }
                    specs.append(s.trimmingCharacters(in: .whitespaces))
                }
            default: throw wrong()
            }
            var days = Set<Int>()
            for spec in specs {
                let ends = spec.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
                guard (1...2).contains(ends.count), let a = day(ends[0]), let b = day(ends.last!) else {
                    throw .invalidValue(
                        path: path, reason: "'\(spec)' is not a day or day range like Mon-Fri (days: Mon Tue Wed Thu Fri Sat Sun)")
                }
                var d = a
                while true {
                    days.insert(d)
                    if d == b { break }
                    d = d % 7 + 1  // ranges may wrap: Fri-Mon
                }
            }
            guard !days.isEmpty else { throw .invalidValue(path: path, reason: "names no day") }
            return "{" + days.sorted().map(String.init).joined(separator: ",") + "}"
        case .dates:
            guard case .array(let items) = value else { throw wrong() }
            var out: [String] = []
            for (i, item) in items.enumerated() {
                let text: String
                switch item {
                case .date(let d): text = d
                case .string(let s): text = s
                default: throw .wrongType(path: "\(path)[\(i)]", expected: "a date such as 2026-12-25", found: typeName(item))
                }
                guard isDate(text) else {
                    throw .invalidValue(path: "\(path)[\(i)]", reason: "'\(text)' is not a date like 2026-12-25")
                }
                out.append(text)
            }
            return arrayLiteral(out)
        case .assetStrings:
            guard case .table(let table) = value else { throw wrong() }
            var object: [String: [String]] = [:]
            for (asset, v) in table {
                _ = try text(asset, path: "\(path).\(asset)")
                switch v {
                case .string(let s): object[asset] = [try text(s, path: "\(path).\(asset)")]
                case .array(let items):
                    var list: [String] = []
                    for (i, item) in items.enumerated() {
                        guard case .string(let s) = item else {
                            throw .wrongType(path: "\(path).\(asset)[\(i)]", expected: "a string", found: typeName(item))
                        }
                        list.append(try text(s, path: "\(path).\(asset)[\(i)]"))
                    }
                    object[asset] = list
                default:
                    throw .wrongType(path: "\(path).\(asset)", expected: "an array of strings", found: typeName(v))
                }
            }
            return json(object)
        case .assetDecimals:
            guard case .table(let table) = value else { throw wrong() }
            var object: [String: String] = [:]
            for (asset, v) in table {
                _ = try text(asset, path: "\(path).\(asset)")
                object[asset] = try decimal(v, path: "\(path).\(asset)", type: .decimal)
            }
            return json(object)
        case .destinations:
            guard case .table(let table) = value else { throw wrong() }
            var object: [String: [Destination]] = [:]
            for asset in table.keys.sorted() {
                _ = try text(asset, path: "\(path).\(asset)")
                let items: [ConfigValue]
                switch table[asset]! {
                case .array(let list): items = list
                case .string(let s): items = [.string(s)]
                case .table(let t): items = [.table(t)]
                case let other:
                    throw .wrongType(path: "\(path).\(asset)", expected: "an array of destination addresses", found: typeName(other))
                }
                var list: [Destination] = []
                for (i, item) in items.enumerated() {
                    list.append(try destination(item, path: "\(path).\(asset)[\(i)]"))
                }
                object[asset] = list
            }
            return json(object)
        }
    }

    /// One allowlisted withdrawal destination as the SQL gets it: the address, and the address-book name that must
    /// match too (nil: any name).
    struct Destination: Encodable {
        let address: String
        let name: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(address, forKey: .address)
            try c.encode(name, forKey: .name)  // null rather than absent: one shape for the SQL
        }

        enum CodingKeys: String, CodingKey { case address, name }
    }

    /// An allowlist entry: a bare address (whose shape is checked, ``DestinationShape``), or a table with `address`
    /// (any shape: the operator said it is an address) and optionally `name`.
    static func destination(_ item: ConfigValue, path: String) throws(ConfigError) -> Destination {
        switch item {
        case .string(let s):
            let entry = try text(s, path: path)
            guard DestinationShape(of: entry) != nil else {
                throw .invalidValue(
                    path: path,
                    reason: "'\(entry)' looks like an address-book name, not a destination address. Names cannot be trusted: "
                        + "whoever can edit the account's address book (someone who took it over, too) chooses them, so an "
                        + "attacker's address saved as '\(entry)' would pass. Write the destination address as WithdrawStatus "
                        + "reports it (info), e.g. \"bc1q...\", \"0x...\" or an IBAN; to require the name as well, write "
                        + "{ address = \"...\", name = \"\(entry)\" }; an address of another shape can be written as "
                        + "{ address = \"...\" }")
            }
            return Destination(address: entry, name: nil)
        case .table(let t):
            for key in t.keys.sorted() where key != "address" && key != "name" {
                throw .unknownKey(path: "\(path).\(key)")
            }
            guard let a = t["address"] else {
                throw .invalidValue(
                    path: path,
                    reason:
                        "needs address = \"...\": a destination is matched by its address; name alone cannot be trusted (the account taker chooses address-book names)"
                )
            }
            guard case .string(let address) = a else {
                throw .wrongType(path: "\(path).address", expected: "a string", found: typeName(a))
            }
            // Any shape: the operator says it is an address, and an entry that is none matches no withdrawal.
            guard !address.isEmpty else {
                throw .invalidValue(path: "\(path).address", reason: "must not be empty")
            }
            var name: String? = nil
            if let n = t["name"] {
                guard case .string(let s) = n else {
                    throw .wrongType(path: "\(path).name", expected: "a string", found: typeName(n))
                }
                name = try text(s, path: "\(path).name")
            }
            return Destination(address: try text(address, path: "\(path).address"), name: name)
        default:
            throw .wrongType(path: path, expected: "a destination address or { address = \"...\", name = \"...\" }", found: typeName(item))
        }
    }

    /// An exact non-negative decimal in ASCII: `digits` or `digits.digits`, bounded (``ParameterType/decimal``).
    /// `Character.isNumber` is not used on purpose: it accepts "½" and "١٢", which PostgreSQL's numeric refuses.
    static func decimal(_ value: ConfigValue, path: String, type: ParameterType) throws(ConfigError) -> String {
        let text: String
        switch value {
        case .string(let s): text = s.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        case .integer(let i): text = String(i)
        case .float(let f): text = "\(f)"  // 2.5 -> "2.5"; inf, nan and 1e+20 fail the grammar below
        default: throw .wrongType(path: path, expected: type.expectation, found: typeName(value))
        }
        if text.hasPrefix("-"), isDecimal(String(text.dropFirst())) {
            throw .invalidValue(path: path, reason: "must not be negative, not '\(text)'")
        }
        guard isDecimal(text) else {
            throw .invalidValue(path: path, reason: "'\(text)' is not \(type.expectation)")
        }
        return text
    }

    /// `^[0-9]{1,20}(\.[0-9]{1,18})?$` over the UTF-8 bytes.
    static func isDecimal(_ text: String) -> Bool {
        let parts = text.utf8.split(separator: UInt8(ascii: "."), maxSplits: 2, omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count) else { return false }
        let digits: (Substring.UTF8View.SubSequence) -> Bool = { part in
            part.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        }
        guard (1...ParameterType.decimalIntegerDigits).contains(parts[0].count), digits(parts[0]) else { return false }
        if parts.count == 2 {
            guard (1...ParameterType.decimalFractionDigits).contains(parts[1].count), digits(parts[1]) else { return false }
        }
        return true
    }

    /// `s` when PostgreSQL text can hold it: libpq passes parameters as C strings, so a NUL would silently cut the
    /// value short.
    static func text(_ s: String, path: String) throws(ConfigError) -> String {
        guard !s.utf8.contains(0) else {
            throw .invalidValue(path: path, reason: "must not contain a NUL character (\\u0000)")
        }
        return s
    }

    /// ASCII digits only (`Int("+1")` would accept a sign).
    static func asciiDigits<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    static func minutes(_ s: String) -> Int? {
        let p = s.split(separator: ":")
        guard p.count == 2, p[0].count == 2, p[1].count == 2, asciiDigits(p[0]), asciiDigits(p[1]),
            let h = Int(p[0]), let m = Int(p[1]), (0...24).contains(h), (0...59).contains(m), h * 60 + m <= 1440
        else { return nil }
        return h * 60 + m
    }

    static func day(_ s: String) -> Int? {
        let key = s.lowercased().prefix(3)
        guard s.count >= 3, let i = dayNames.firstIndex(of: String(key)) else { return nil }
        return i + 1
    }

    static func isDate(_ s: String) -> Bool {
        let p = s.split(separator: "-", omittingEmptySubsequences: false)
        // Year 0000 does not exist for PostgreSQL's date type ("date/time field value out of range").
        guard p.count == 3, p[0].count == 4, p[1].count == 2, p[2].count == 2, p.allSatisfy({ asciiDigits($0) }),
            let y = Int(p[0]), let m = Int(p[1]), let d = Int(p[2]), y >= 1, (1...12).contains(m), d >= 1
        else { return false }
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return d <= lengths[m - 1]
    }

    /// A PostgreSQL array literal with every element double-quoted.
    static func arrayLiteral(_ items: [String]) -> String {
        "{"
            + items.map { "\"" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
            .joined(separator: ",") + "}"
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
