import AuditKernel
import AuditStore
import KrakenAPI

/// Turns Kraken's JSON entities into rows for the staging tables, validating every field it stores:
/// decimals must be exact decimal strings, times Kraken's float seconds. A bad entity rejects the whole
/// response (nothing half-stored), with the id and field named.
struct RowReader {
    let endpoint: String
    let id: String
    let object: JSONValue

    init(endpoint: String, id: String, object: JSONValue) throws(CollectError) {
        guard case .object = object else {
            throw .malformed(endpoint: endpoint, reason: "entry \(id) is not an object")
        }
        self.endpoint = endpoint
        self.id = id
        self.object = object
    }

    func fail(_ field: String, _ why: String) -> CollectError {
        .malformed(endpoint: endpoint, reason: "entry \(id): field '\(field)' \(why)")
    }

    func string(_ f: String) throws(CollectError) -> String {
        guard let v = object[f] else { throw fail(f, "is missing") }
        guard let s = v.stringValue else { throw fail(f, "is not a string") }
        return s
    }

    func optionalString(_ f: String) throws(CollectError) -> String? {
        guard let v = object[f], v != .null else { return nil }
        guard let s = v.stringValue else { throw fail(f, "is not a string") }
        return s
    }

    /// Decimal string (or number, as BalanceEx may send) kept exactly.
    func decimal(_ f: String) throws(CollectError) -> ExactDecimal {
        guard let v = object[f] else { throw fail(f, "is missing") }
        return try decimal(v, field: f)
    }

    func optionalDecimal(_ f: String) throws(CollectError) -> ExactDecimal? {
        guard let v = object[f], v != .null else { return nil }
        return try decimal(v, field: f)
    }

    func decimal(_ v: JSONValue, field f: String) throws(CollectError) -> ExactDecimal {
        let text: String
        switch v {
        case .string(let s): text = s
        case .number(let n): text = n
        default: throw fail(f, "is not a decimal")
        }
        guard let d = ExactDecimal(text), text.count <= 200 else { throw fail(f, "'\(text.prefix(40))' is not a decimal number") }
        return d
    }

    /// Kraken float seconds → ISO timestamp text (exact to the microsecond).
    func time(_ f: String) throws(CollectError) -> String {
        guard let v = try optionalTime(f) else { throw fail(f, "is missing") }
        return v
    }

    func optionalTime(_ f: String) throws(CollectError) -> String? {
        guard let v = object[f], v != .null else { return nil }
        let text: String
        switch v {
        case .number(let n): text = n
        case .string(let s): text = s
        default: throw fail(f, "is not a time")
        }
        guard let iso = PGTimestamp.fromEpochText(text) else { throw fail(f, "'\(text.prefix(40))' is not Unix seconds") }
        return iso
    }

    /// Kraken times where 0 means unset.
    func optionalNonZeroTime(_ f: String) throws(CollectError) -> String? {
        if let n = object[f]?.numberText, Double(n) == 0 { return nil }
        return try optionalTime(f)
    }

    func optionalInteger(_ f: String) throws(CollectError) -> Int64? {
        guard let v = object[f], v != .null else { return nil }
        guard let n = v.numberText ?? v.stringValue, let i = Int64(n) else { throw fail(f, "is not an integer") }
        return i
    }

    func optionalBool(_ f: String) throws(CollectError) -> Bool? {
        guard let v = object[f], v != .null else { return nil }
        guard case .bool(let b) = v else { throw fail(f, "is not a boolean") }
        return b
    }

    func optionalStringArray(_ f: String) throws(CollectError) -> String? {
        guard let v = object[f], v != .null else { return nil }
        guard let a = v.arrayValue else { throw fail(f, "is not an array") }
        var out: [String] = []
        for e in a {
            guard let s = e.stringValue else { throw fail(f, "holds a non-string") }
            out.append(s)
        }
        return PGArray.text(out)
    }

    var raw: String { object.jsonText }
}

/// Entities of a map-shaped result (`{"ledger": {id: {...}}, "count": n}`), in Kraken's order.
func entities(_ result: JSONValue, key: String?, endpoint: String) throws(CollectError) -> [(String, JSONValue)] {
    let container = key.map { result[$0] } ?? result
    guard let container else {
        if result == .null || result.objectMembers?.isEmpty == true { return [] }
        throw .malformed(endpoint: endpoint, reason: "result has no '\(key ?? "")' member")
    }
    if container == .null { return [] }
    if let arr = container.arrayValue, arr.isEmpty { return [] }  // PHP-style empty map
    guard let members = container.objectMembers else {
        throw .malformed(endpoint: endpoint, reason: "'\(key ?? "result")' is not an object")
    }
    for (id, _) in members where id.isEmpty || id.count > 64 {
        throw .malformed(endpoint: endpoint, reason: "an id is empty or longer than 64 characters")
    }
    return members
}

/// Keeps the last occurrence of each id (a page can repeat an id); refuses conflicting duplicates.
func dedupe(_ items: [(String, JSONValue)], endpoint: String) throws(CollectError) -> [(String, JSONValue)] {
    var index: [String: Int] = [:]
    var out: [(String, JSONValue)] = []
    for (id, v) in items {
        if let i = index[id] {
            guard out[i].1 == v else {
                throw .malformed(endpoint: endpoint, reason: "id \(id) appears twice in one response with different contents")
            }
            continue
        }
        index[id] = out.count
        out.append((id, v))
    }
    return out
}
