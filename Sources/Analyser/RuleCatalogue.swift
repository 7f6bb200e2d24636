import AuditStore
import Foundation

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
