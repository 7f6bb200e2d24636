import AuditConfig
import AuditStore

/// Everything that can go wrong in the analyser; each case says what happened and what to do about it.
public enum AnalyserError: Error, CustomStringConvertible, Sendable {
    /// `sql/rules` could not be listed or a rule file could not be read.
    case rulesUnreadable(path: String, reason: String)
    /// A rule file's header or SQL is malformed (`line` is 1-based, 0 when not tied to a line).
    case badRuleFile(path: String, line: Int, problem: String)
    /// Two rule files declare the same id.
    case duplicateRule(id: String, paths: [String])
    /// `[rules.<id>]` holds an unknown parameter, a wrong type or a bad value.
    case config(ConfigError)
    /// `--account` names an account that is not configured.
    case unknownAccount(name: String, known: [String])
    /// A command needs `--account NAME` because several accounts are configured (or names one when none is).
    case accountRequired(known: [String])
    /// `--rule` names a rule that does not exist.
    case unknownRule(id: String, known: [String])
    /// `--rule` names a rule that the config disables.
    case ruleDisabled(id: String)
    /// Another `kraken-audit analyse` holds the analyser lock.
    case alreadyRunning
    /// A database operation failed.
    case database(PGError)
    /// No finding has this id.
    case findingNotFound(id: Int64)
    /// A status change was refused.
    case invalidStatusChange(id: Int64, reason: String)

    public var description: String {
        switch self {
        case .rulesUnreadable(let path, let reason):
            return "cannot read the rules in \(path): \(reason) (set KRAKEN_AUDIT_SQL_DIR or --sql-dir to the directory holding rules/)"
        case .badRuleFile(let path, let line, let problem):
            return
                "rule file \(path)\(line > 0 ? ":\(line)" : ""): \(problem); fix the file (see sql/rules/README.md for the header format)"
        case .duplicateRule(let id, let paths):
            return "rule id '\(id)' is declared by more than one file (\(paths.joined(separator: ", "))): rename one"
        case .config(let error):
            return error.description
        case .unknownAccount(let name, let known):
            return "unknown account '\(name)': configured accounts are \(known.isEmpty ? "(none)" : known.joined(separator: ", "))"
        case .accountRequired(let known):
            return known.isEmpty
                ? "no [[account]] is configured: add one to the config"
                : "name the account with --account NAME: configured accounts are \(known.joined(separator: ", "))"
        case .unknownRule(let id, let known):
            return "unknown rule '\(id)': rules are \(known.joined(separator: ", ")) (see `kraken-audit rules`)"
        case .ruleDisabled(let id):
            return "rule '\(id)' is disabled in the config ([rules.\(id)] enabled = false): enable it to run it"
        case .alreadyRunning:
            return
                "another `kraken-audit analyse` is running on this database: wait for it to finish (it holds the analyser's advisory lock)"
        case .database(let error):
            return error.description
        case .findingNotFound(let id):
            return "no finding with id \(id): list them with `kraken-audit findings list`"
        case .invalidStatusChange(let id, let reason):
            return "cannot change the status of finding \(id): \(reason)"
        }
    }
}

/// Runs `body`, turning any error into an ``AnalyserError`` (database errors keep their SQLSTATE).
func analyserErrors<T>(_ body: () throws -> T) throws(AnalyserError) -> T {
    do {
        return try body()
    } catch let error as AnalyserError {
        throw error
    } catch let error as PGError {
        throw .database(error)
    } catch let error as ConfigError {
        throw .config(error)
    } catch {
        throw .database(PGError(kind: .query, message: "\(error)"))
    }
}
