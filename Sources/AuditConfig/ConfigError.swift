/// A configuration problem: names the file or key path and says how to fix it.
public enum ConfigError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(searched: [String])
    case unreadable(path: String, reason: String)
    case syntax(path: String, line: Int, column: Int, message: String)
    case unknownKey(path: String)
    case wrongType(path: String, expected: String, found: String)
    case missingKey(path: String)
    case invalidValue(path: String, reason: String)
    case duplicateAccount(name: String)
    case secret(account: String, SecretError)

    public var description: String {
        switch self {
        case .fileNotFound(let searched):
            return "no config file found (looked for \(searched.joined(separator: ", "))): pass --config PATH or set KRAKEN_AUDIT_CONFIG"
        case .unreadable(let path, let reason):
            return "cannot read config file \(path): \(reason)"
        case .syntax(let path, let line, let column, let message):
            return "\(path):\(line):\(column): TOML syntax error: \(message)"
        case .unknownKey(let path):
            return "unknown config key '\(path)': check its spelling against the README's config reference"
        case .wrongType(let path, let expected, let found):
            return "config key '\(path)' must be \(expected), not \(found)"
        case .missingKey(let path):
            return "config key '\(path)' is required"
        case .invalidValue(let path, let reason):
            return "config key '\(path)': \(reason)"
        case .duplicateAccount(let name):
            return "two [[account]] entries are named '\(name)': account names must be unique"
        case .secret(let account, let error):
            return "account '\(account)': \(error)"
        }
    }
}

/// Why a secret (API key, secret or OTP) could not be read.
public enum SecretError: Error, CustomStringConvertible, Equatable {
    case envNotSet(variable: String, key: String)
    case fileMissing(path: String, key: String)
    case fileUnreadable(path: String, reason: String)
    case filePermissions(path: String, mode: String)
    case fileOwner(path: String, owner: UInt32, expected: UInt32)
    case commandFailed(command: String, reason: String)
    case empty(source: String)

    public var description: String {
        switch self {
        case .envNotSet(let variable, let key):
            return "environment variable \(variable) (from \(key)) is not set or empty: export it, or use a file"
        case .fileMissing(let path, let key):
            return "secret file \(path) (from \(key)) does not exist"
        case .fileUnreadable(let path, let reason):
            return "cannot read secret file \(path): \(reason)"
        case .filePermissions(let path, let mode):
            return "secret file \(path) is accessible by group or others (mode \(mode)): run `chmod 600 \(path)`"
        case .fileOwner(let path, let owner, let expected):
            return
                "secret file \(path) is owned by uid \(owner), not by the user running kraken-audit (uid \(expected)): run `chown \(expected) \(path)`"
        case .commandFailed(let command, let reason):
            return "secret command '\(command)' failed: \(reason)"
        case .empty(let source):
            return "\(source) is empty"
        }
    }
}
