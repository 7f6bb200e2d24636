import AuditConfig
import AuditStore
import Collector
import Foundation
import KrakenAPI
import Logging

extension AuditEnvironment {
    /// A collector over this environment's config, reading secrets with `reader`.
    public func collector(
        transport: any HTTPTransport = URLSessionTransport(), reader: SecretReader = SecretReader(), showProgress: Bool = false
    ) -> Collector {
        let env = self
        return Collector(
            config: config, credentials: { account in try env.credentials(for: account, reader: reader) },
            transport: transport, showProgress: showProgress, logger: logger)
    }

    /// Checks that every requested account exists in the config.
    public func checkAccounts(_ names: [String]) throws(ConfigError) {
        let known = Set(config.accounts.map(\.name))
        for n in names where !known.contains(n) {
            throw .invalidValue(
                path: "--account",
                reason: "no [[account]] named '\(n)' in \(config.path) (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    /// Refuses to work on an unmigrated or newer schema, naming the fix.
    public func requireCurrentSchema() throws {
        let db = try connect()
        defer { db.close() }
        let status = try migrator().status(on: db)
        if !status.unknown.isEmpty { throw MigrationError.databaseNewer(versions: status.unknown) }
        if let changed = status.changed.first {
            throw MigrationError.checksumMismatch(version: changed.version, name: changed.name, applied: "?", onDisk: changed.checksum)
        }
        if !status.pending.isEmpty { throw SchemaNotCurrent(pending: status.pending.map(\.version)) }
    }
}

extension ExitStatus {
    /// The exit status of a collection: 0 all good; 75 when every failure is temporary and nothing succeeded;
    /// 3 when some account failed.
    public static func forOutcomes(_ outcomes: [AccountOutcome]) -> ExitStatus {
        let failed = outcomes.filter { !$0.succeeded }
        if failed.isEmpty { return .success }
        if failed.count == outcomes.count {
            if failed.allSatisfy({ $0.error?.isTemporary == true }) { return .tempFail }
            if failed.contains(where: { if case .configuration = $0.error { return true } else { return false } }) { return .config }
            return .unavailable
        }
        return .partial
    }
}
