/// The options every command accepts (`--config`, `--log-level`, `--log-format`, the hidden `--sql-dir`),
/// as the CLI parsed them.
public struct GlobalSettings: Sendable, Equatable {
    /// `--config`; nil: `$KRAKEN_AUDIT_CONFIG`, `./kraken-audit.toml`, `/etc/kraken-audit/kraken-audit.toml`.
    public var configPath: String?
    /// `--log-level`.
    public var logLevel: LogLevel
    /// `--log-format`.
    public var logFormat: LogFormat
    /// `--sql-dir`; nil: `$KRAKEN_AUDIT_SQL_DIR` or found next to the executable.
    public var sqlDirectory: String?
    /// `--db-connections`: overrides `[database] max_connections` (the connection pool's size).
    public var databaseConnections: Int?

    /// The settings of a command line giving the options passed (the defaults otherwise).
    public init(
        configPath: String? = nil, logLevel: LogLevel = .info, logFormat: LogFormat = .human, sqlDirectory: String? = nil,
        databaseConnections: Int? = nil
    ) {
        self.configPath = configPath
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.sqlDirectory = sqlDirectory
        self.databaseConnections = databaseConnections
    }
}
