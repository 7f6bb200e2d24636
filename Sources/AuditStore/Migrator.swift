import COpenSSL
import Foundation
import Logging

/// One migration file, `sql/migrations/NNNN_name.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String
    /// Hex SHA-256 of the file's bytes.
    public let checksum: String
    public let path: String
}

/// Why migrations could not be loaded or applied. Each case says what to do.
public enum MigrationError: Error, CustomStringConvertible {
    case directoryNotFound(searched: [String])
    case unreadable(path: String, reason: String)
    case badFileName(String)
    case duplicateVersion(Int, [String])
    case checksumMismatch(version: Int, name: String, applied: String, onDisk: String)
    case databaseNewer(versions: [Int])
    case failed(version: Int, name: String, error: PGError)
    case database(PGError)

    public var description: String {
        switch self {
        case .directoryNotFound(let searched):
            return
                "cannot find the SQL directory (sql/migrations); looked in: \(searched.joined(separator: ", ")). Set KRAKEN_AUDIT_SQL_DIR or pass --sql-dir"
        case .unreadable(let path, let reason):
            return "cannot read migration \(path): \(reason)"
        case .badFileName(let name):
            return "migration file '\(name)' is not named NNNN_name.sql: rename it"
        case .duplicateVersion(let v, let files):
            return "two migration files share version \(v): \(files.joined(separator: ", ")); renumber one"
        case .checksumMismatch(let v, let name, let applied, let onDisk):
            return
                "migration \(v) (\(name)) was changed after it was applied (applied checksum \(applied.prefix(12))..., file now \(onDisk.prefix(12))...): never edit an applied migration; restore the file and add a new migration instead"
        case .databaseNewer(let versions):
            return
                "the database has migrations this kraken-audit does not know (\(versions.map(String.init).joined(separator: ", "))): upgrade kraken-audit to the version that applied them"
        case .failed(let v, let name, let error):
            return "migration \(v) (\(name)) failed and was rolled back: \(error)"
        case .database(let error):
            return error.description
        }
    }
}

/// The state of a database relative to the migration files.
public struct MigrationStatus: Sendable {
    public let applied: [Int]
    public let pending: [Migration]
    /// Versions applied in the database but unknown to these files (the database is newer).
    public let unknown: [Int]
    /// Applied migrations whose file changed since.
    public let changed: [Migration]

    /// Whether the schema is exactly what these files describe.
    public var isCurrent: Bool { pending.isEmpty && unknown.isEmpty && changed.isEmpty }
}

/// Applies `sql/migrations/*.sql` in order, each in its own transaction, recorded with a checksum in
/// `audit.schema_migrations`. Concurrent runs are serialised by an advisory lock.
public struct Migrator: Sendable {
    /// Advisory lock key held while migrating ("krak" "mig").
    public static let lockKey: Int64 = 0x6B72_616B_006D_6967

    public let migrations: [Migration]
    private let logger: Logger

    /// Loads and validates the files in `directory` (the `migrations` folder).
    public init(directory: URL, logger: Logger) throws(MigrationError) {
        self.migrations = try Self.load(directory: directory)
        self.logger = logger
    }

    /// Uses already-loaded migrations (tests).
    public init(migrations: [Migration], logger: Logger) {
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    static func load(directory: URL) throws(MigrationError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw .unreadable(path: directory.path, reason: "\(error.localizedDescription)")
        }
        var result: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            let stem = name.dropLast(4)
            let parts = stem.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]), !parts[1].isEmpty else {
                throw .badFileName(name)
            }
            let path = directory.appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path) else {
                throw .unreadable(path: path, reason: "cannot read file")
            }
            guard let sql = String(data: data, encoding: .utf8) else {
                throw .unreadable(path: path, reason: "not UTF-8")
            }
            result.append(
                Migration(version: version, name: String(parts[1]), sql: sql, checksum: sha256Hex(data), path: path))
        }
        var seen: [Int: String] = [:]
        for m in result {
            if let other = seen[m.version] {
                throw .duplicateVersion(m.version, [other, URL(fileURLWithPath: m.path).lastPathComponent])
            }
            seen[m.version] = URL(fileURLWithPath: m.path).lastPathComponent
        }
        return result.sorted { $0.version < $1.version }
    }

    static func sha256Hex(_ data: Data) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        data.withUnsafeBytes { raw in _ = SHA256(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &digest) }
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    /// Compares the database with the files, without changing anything.
    public func status(on db: PGConnection) throws(MigrationError) -> MigrationStatus {
        do {
            let exists =
                try db.query("SELECT to_regclass('audit.schema_migrations') IS NOT NULL").rows.first?
                .decode(0, as: Bool.self) ?? false
            let applied: [(Int, String)] =
                exists
                ? try db.query("SELECT version, checksum FROM audit.schema_migrations ORDER BY version").rows.map {
                    row throws(PGError) in (try row.decode(0, as: Int.self), try row.decode(1, as: String.self))
                } : []
            let appliedMap = Dictionary(applied, uniquingKeysWith: { a, _ in a })
            let known = Set(migrations.map(\.version))
            return MigrationStatus(
                applied: applied.map(\.0),
                pending: migrations.filter { appliedMap[$0.version] == nil },
                unknown: applied.map(\.0).filter { !known.contains($0) },
                changed: migrations.filter { m in appliedMap[m.version].map { $0 != m.checksum } ?? false })
        } catch {
            throw .database(error)
        }
    }

    /// Applies pending migrations; returns those applied. Refuses (before changing anything) if an applied file
    /// changed or the database is newer.
    @discardableResult
    public func migrate(on db: PGConnection) throws(MigrationError) -> [Migration] {
        do {
            try db.advisoryLock(Self.lockKey)
        } catch {
            throw .database(error)
        }
        defer { _ = try? db.advisoryUnlock(Self.lockKey) }
        do {
            try db.executeScript(
                """
                CREATE SCHEMA IF NOT EXISTS audit;
                CREATE TABLE IF NOT EXISTS audit.schema_migrations (
                    version     integer PRIMARY KEY,
                    name        text NOT NULL,
                    checksum    text NOT NULL,
                    applied_at  timestamptz NOT NULL DEFAULT now(),
                    duration_ms integer NOT NULL
                );
                COMMENT ON TABLE audit.schema_migrations IS 'Migrations applied by kraken-audit (sql/migrations), with the SHA-256 of each file.';
                """)
        } catch {
            throw .database(error)
        }
        let current = try status(on: db)
        if let m = current.changed.first {
            let applied =
                (try? db.query("SELECT checksum FROM audit.schema_migrations WHERE version = $1", [m.version]).rows
                    .first?.decode(0, as: String.self)) ?? "?"
            throw .checksumMismatch(version: m.version, name: m.name, applied: applied, onDisk: m.checksum)
        }
        if !current.unknown.isEmpty { throw .databaseNewer(versions: current.unknown) }
        var done: [Migration] = []
        for m in current.pending {
            let started = Date()
            do {
                try db.transaction { () throws in
                    try db.executeScript(m.sql)
                    try db.execute(
                        "INSERT INTO audit.schema_migrations (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)",
                        [m.version, m.name, m.checksum, Int(Date().timeIntervalSince(started) * 1000)])
                }
            } catch let error as PGError {
                throw .failed(version: m.version, name: m.name, error: error)
            } catch {
                throw .failed(version: m.version, name: m.name, error: PGError(kind: .query, message: "\(error)"))
            }
            logger.info(
                "applied migration",
                metadata: ["version": "\(m.version)", "name": "\(m.name)", "ms": "\(Int(Date().timeIntervalSince(started) * 1000))"])
            done.append(m)
        }
        return done
    }
}

/// Finds the project's `sql/` directory (migrations, rules, views) at run time.
public enum SQLDirectory {
    /// Search order: `explicit`, `$KRAKEN_AUDIT_SQL_DIR`, `<exe>/../share/kraken-audit/sql`, the nearest
    /// ancestor of the executable holding `sql/migrations` (a source checkout's `.build/...`), the current
    /// directory's `sql/`, `/usr/local/share/kraken-audit/sql`, `/usr/share/kraken-audit/sql`.
    public static func locate(explicit: String? = nil) throws(MigrationError) -> URL {
        var candidates: [String] = []
        if let explicit, !explicit.isEmpty { candidates.append(explicit) }
        if let env = ProcessInfo.processInfo.environment["KRAKEN_AUDIT_SQL_DIR"], !env.isEmpty { candidates.append(env) }
        if explicit == nil || explicit?.isEmpty == true {
            let exe = URL(fileURLWithPath: executablePath()).resolvingSymlinksInPath().deletingLastPathComponent()
            candidates.append(exe.appendingPathComponent("../share/kraken-audit/sql").standardized.path)
            var dir = exe
            for _ in 0..<6 {
                candidates.append(dir.appendingPathComponent("sql").path)
                dir = dir.deletingLastPathComponent()
            }
            candidates.append(FileManager.default.currentDirectoryPath + "/sql")
            candidates.append("/usr/local/share/kraken-audit/sql")
            candidates.append("/usr/share/kraken-audit/sql")
        }
        for c in candidates {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: c + "/migrations", isDirectory: &isDir), isDir.boolValue {
                return URL(fileURLWithPath: c)
            }
            if explicit != nil, c == explicit { break }  // an explicit directory must be right: don't guess past it
        }
        throw .directoryNotFound(searched: candidates)
    }

    static func executablePath() -> String {
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return link }
        return CommandLine.arguments.first ?? "."
    }
}
