import AuditKernel
import ChildProcesses
import Foundation
import KrakenAPI

/// Resolves ``SecretSource``s into ``Secret``s, enforcing private secret files (as ssh does).
public struct SecretReader: Sendable {
    public var environment: [String: String]
    /// Timeout for `api_secret_command`.
    public var commandTimeout: TimeInterval

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, commandTimeout: TimeInterval = 30) {
        self.environment = environment
        self.commandTimeout = commandTimeout
    }

    /// Reads the secret; surrounding whitespace and the trailing newline of files/commands are removed.
    public func read(_ source: SecretSource, key: String) throws(SecretError) -> Secret {
        switch source {
        case .env(let variable):
            guard let value = environment[variable], !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw .envNotSet(variable: variable, key: key)
            }
            return Secret(value.trimmingCharacters(in: .whitespacesAndNewlines))
        case .file(let path):
            try Self.checkPrivate(path: path, key: key)
            guard var data = FileManager.default.contents(atPath: path) else {
                throw .fileUnreadable(path: path, reason: "permission denied")
            }
            defer { data.resetBytes(in: 0..<data.count) }
            return try trimmed(data, source: "secret file \(path)")
        case .command(let argv):
            return try runCommand(argv)
        }
    }

    private func trimmed(_ data: Data, source: String) throws(SecretError) -> Secret {
        var bytes = [UInt8](data)
        defer { for i in bytes.indices { bytes[i] = 0 } }
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        var start = 0
        var end = bytes.count
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        guard end > start else { throw .empty(source: source) }
        return Secret(bytes: bytes[start..<end])
    }

    /// The environment a secret command gets: what password managers need, never other secrets that
    /// kraken-audit itself was given through `*_env` variables.
    static func commandEnvironment(_ env: [String: String]) -> [String: String] {
        let names: Set<String> = [
            "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",
            "DBUS_SESSION_BUS_ADDRESS", "GNUPGHOME", "GPG_TTY", "CREDENTIALS_DIRECTORY",
        ]
        let prefixes = ["PASSWORD_STORE_", "VAULT_", "AWS_", "OP_", "GOPASS_"]
        return env.filter { key, _ in names.contains(key) || prefixes.contains { key.hasPrefix($0) } }
    }

    /// Refuses files that group or others can access, or that another user owns.
    public static func checkPrivate(path: String, key: String) throws(SecretError) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { throw .fileMissing(path: path, key: key) }
            throw .fileUnreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .fileUnreadable(path: path, reason: "not a regular file") }
        if st.st_mode & 0o077 != 0 {
            throw .filePermissions(path: path, mode: String(format: "%04o", st.st_mode & 0o7777))
        }
        let me = geteuid()
        if st.st_uid != me, me != 0 || st.st_uid != 0 {
            throw .fileOwner(path: path, owner: st.st_uid, expected: me)
        }
    }

    private func runCommand(_ argv: [String]) throws(SecretError) -> Secret {
        let name = argv[0]
        let executable = name.contains("/") ? name : "/usr/bin/env"
        let arguments = name.contains("/") ? Array(argv.dropFirst()) : argv
        let child: ChildProcess
        do {
            child = try ChildProcess.start(
                executable, arguments: arguments, environment: Self.commandEnvironment(environment),
                stdout: .capture(limit: 65536), stderr: .capture(limit: 4096))
        } catch {
            throw .commandFailed(command: name, reason: error.description)
        }
        defer { child.wipeCapturedOutput() }
        guard let termination = child.waitOrKill(timeout: commandTimeout, grace: 1) else {
            throw .commandFailed(command: name, reason: "timed out after \(Int(commandTimeout)) s")
        }
        child.waitForOutput(timeout: 5)
        guard termination == .exited(0) else {
            let msg =
                String(decoding: child.stderr.prefix(200), as: UTF8.self)
                .split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            let how = if case .exited(let code) = termination { "exit status \(code)" } else { "\(termination)" }
            throw .commandFailed(command: name, reason: "\(how)\(msg.isEmpty ? "" : ": \(msg)")")
        }
        var data = Data(child.stdout)
        defer { data.resetBytes(in: 0..<data.count) }
        return try trimmed(data, source: "output of \(name)")
    }
}
