import Analyser
import AuditConfig
import AuditStore
import Foundation
import KrakenAPI
import Logging

/// What every command needs: the configuration, where the SQL files are, and a logger.
public struct AuditEnvironment: Sendable {
    public var config: AuditConfiguration
    public let sqlDirectory: String?
    public let logger: Logger

    public init(config: AuditConfiguration, sqlDirectory: String? = nil, logger: Logger) {
        self.config = config
        self.sqlDirectory = sqlDirectory
        self.logger = logger
    }

    /// Loads the configuration (`configPath`, else the default places) and checks it, `[rules.*]` too: a bad
    /// rule parameter is a configuration error when the config is loaded, not a rule failing mid-run.
    public static func load(configPath: String?, sqlDirectory: String?, logger: Logger) throws -> AuditEnvironment {
        let path = try ConfigLoader.locate(explicit: configPath)
        let loaded = try ConfigLoader.load(path: path)
        try validateRuleConfiguration(loaded, sqlDirectory: sqlDirectory)
        return AuditEnvironment(config: loaded, sqlDirectory: sqlDirectory, logger: logger)
    }

    /// Opens a database connection from `[database] url` or libpq's defaults.
    public func connect() throws(PGError) -> PGConnection {
        try PGConnection(url: config.database.url, logger: logger)
    }

    /// Loads the migration files.
    public func migrator() throws(MigrationError) -> Migrator {
        let dir = try SQLDirectory.locate(explicit: sqlDirectory)
        return try Migrator(directory: dir.appendingPathComponent("migrations"), logger: logger)
    }

    /// Applies pending migrations.
    @discardableResult
    public func migrate() throws -> [Migration] {
        let db = try connect()
        defer { db.close() }
        return try migrator().migrate(on: db)
    }

    /// Reads an account's credentials from its secret sources.
    public func credentials(for account: AccountConfig, reader: SecretReader = SecretReader()) throws(ConfigError)
        -> KrakenCredentials
    {
        do {
            let key = try reader.read(account.apiKey, key: "api_key")
            let secret = try reader.read(account.apiSecret, key: "api_secret")
            let otp = try account.otp.map { source throws(SecretError) in try reader.read(source, key: "otp") }
            return KrakenCredentials(apiKey: key.unsafeStringValue(), secret: secret, otp: otp)
        } catch {
            throw .secret(account: account.name, error)
        }
    }
}
