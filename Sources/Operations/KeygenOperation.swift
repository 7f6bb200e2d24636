import Foundation
import Integrity
import Logging

/// `kraken-audit keygen --out FILE`: creates the Ed25519 signing key for digests (`[integrity] signing_key_file`).
///
/// Writes the private key to FILE (PKCS#8 PEM, mode 0600) and the public key to FILE.pub (PEM, mode 0644), never
/// overwriting either (exit 73 when one exists), and prints the public key, its fingerprint and the config line
/// to add. Needs no configuration file and no database.
public struct KeygenOperation: StandaloneOperation, AuditOperation {
    public static let label = "keygen"

    /// `--out`: the private key file to create (relative to the working directory or absolute).
    public var output: String

    /// Creates the key at `output` and `output`.pub.
    public init(output: String) {
        self.output = output
    }

    public func run(in environment: AuditEnvironment) async throws -> CommandResult {
        try await run(logger: environment.logger)
    }

    public func run(logger: Logger) async throws -> CommandResult {
        guard !output.isEmpty else { throw UsageError("--out needs a file name, e.g. --out /etc/kraken-audit/signing.key") }
        let path = Self.absolute(output)
        let publicPath = path + ".pub"
        // Both names are checked before anything is written, so a refused run leaves nothing behind.
        for file in [path, publicPath] {
            var st = stat()
            if lstat(file, &st) == 0 { throw IntegrityError.keyFileExists(path: file) }
        }
        let key = try Ed25519PrivateKey.generate()
        try key.write(to: path)
        do {
            try key.publicKey.write(to: publicPath)
        } catch {
            // Without its public half the new key is of no use; remove it so the same command can be run again.
            unlink(path)
            throw error
        }
        let fingerprint = key.publicKey.fingerprint
        logger.debug("signing key created", metadata: ["key_file": "\(path)", "fingerprint": "\(fingerprint)"])
        return CommandResult(
            output: """
                Signing key: \(path) (mode 0600; keep it off the database host and out of its backups)
                Public key:  \(publicPath) (give it to whoever verifies: kraken-audit verify --public-key \(publicPath))
                Fingerprint: \(fingerprint)

                \(key.publicKey.pemRepresentation)
                Add to kraken-audit.toml:
                [integrity]
                signing_key_file = \(Self.tomlString(path))
                digest_dir = "/var/lib/kraken-audit/digests"   # where each digest is also written (required); keep a copy elsewhere

                """)
    }

    /// `path` made absolute against the working directory (the config file is read from elsewhere).
    static func absolute(_ path: String) -> String {
        let full = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return (full as NSString).standardizingPath
    }

    /// `s` as a TOML basic string.
    static func tomlString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case let c where c.value < 0x20 || c.value == 0x7F: out += String(format: "\\u%04X", c.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
