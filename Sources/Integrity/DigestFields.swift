import AuditKernel

/// The members of one JSON object of a digest file, read strictly: exactly the expected names, each once, each of
/// the expected type. Errors name the member by its path (`digest.chains[3].rows`).
struct DigestFields {
    let members: [String: JSONValue]
    let path: String

    init(_ value: JSONValue, at path: String, names: [String]) throws(IntegrityError) {
        self.path = path
        guard case .object(let list) = value else { throw Self.error("\(path.isEmpty ? "the file" : path) is not a JSON object") }
        var members: [String: JSONValue] = [:]
        for (name, member) in list {
            guard members.updateValue(member, forKey: name) == nil else { throw Self.error("\(Self.join(path, name)) appears twice") }
            guard names.contains(name) else { throw Self.error("unknown member \(Self.join(path, name))") }
        }
        for name in names where members[name] == nil { throw Self.error("\(Self.join(path, name)) is missing") }
        self.members = members
    }

    static func join(_ path: String, _ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    static func error(_ reason: String) -> IntegrityError { .malformedDigest(path: nil, reason: reason) }

    func string(_ name: String) throws(IntegrityError) -> String {
        guard case .string(let s)? = members[name] else { throw Self.error("\(Self.join(path, name)) is not a string") }
        return s
    }

    func optionalString(_ name: String) throws(IntegrityError) -> String? {
        if case .null? = members[name] { return nil }
        guard case .string(let s)? = members[name] else { throw Self.error("\(Self.join(path, name)) is neither a string nor null") }
        return s
    }

    func integer(_ name: String) throws(IntegrityError) -> Int64 {
        guard case .number(let text)? = members[name], let value = CanonicalJSON.integer(text) else {
            throw Self.error("\(Self.join(path, name)) is not an integer")
        }
        return value
    }

    func array(_ name: String) throws(IntegrityError) -> [JSONValue] {
        guard case .array(let a)? = members[name] else { throw Self.error("\(Self.join(path, name)) is not an array") }
        return a
    }

    func value(_ name: String) -> JSONValue { members[name] ?? .null }
}
