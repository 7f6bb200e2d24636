import AuditConfig
import Foundation

/// Settings of the export backfill (issue 10), part of ``CollectOptions``.
public struct ExportOptions: Sendable {
    /// Overrides every account's `backfill` (the CLI's `--backfill`); nil = the config, else auto.
    public var mode: BackfillMode?
    /// Poll, download and import in this run until every report is imported (`--wait`), instead of one step.
    public var wait: Bool
    public var waitTimeoutSeconds: Double
    /// With ``wait``: the longest wait between two ExportStatus polls of a report (the first come after 1, 2,
    /// 4, ... seconds: a small report is ready within seconds, a large one may take hours).
    public var pollSeconds: Double
    /// Where downloaded zip files are kept (audit evidence, with their SHA-256 in `audit.exports`).
    public var directory: URL
    /// The export ends this long before Kraken's clock (rows in flight settle); paging covers the rest.
    public var settleSeconds: Int64
    /// The minimum overlap between the export's end and the paging start (the seam); the effective overlap is
    /// max(this, ``CollectOptions/overlapSeconds``).
    public var seamOverlapSeconds: Int64
    /// Start of the requested data window when no `since` is given: 2013-01-01, before Kraken's first accounts
    /// (AddExport's default would be the 1st of the current month).
    public var historyStart: Int64
    /// A report that fails or is refused is requested again up to this many times in all.
    public var maxAttempts: Int
    /// Delete the report at Kraken once imported (`RemoveExport type=delete`).
    public var deleteWhenImported: Bool
    /// The largest archive `RetrieveExport` may download (streamed to disk, never held in memory); default 4 GiB.
    public var maxDownloadBytes: Int64
    /// The largest size the archive's CSV entry may unpack to; checked before unpacking and while unpacking.
    public var maxUncompressedBytes: Int64
    /// The largest compression ratio (unpacked / packed) of an entry over 1 MiB: real CSV packs about 5-15 : 1,
    /// a zip bomb 1000 : 1.
    public var maxCompressionRatio: Double

    public init(
        mode: BackfillMode? = nil, wait: Bool = false, waitTimeoutSeconds: Double = 6 * 3600, pollSeconds: Double = 30,
        directory: URL = ExportOptions.defaultDirectory, settleSeconds: Int64 = 3600, seamOverlapSeconds: Int64 = 600,
        historyStart: Int64 = 1_356_998_400, maxAttempts: Int = 3, deleteWhenImported: Bool = true,
        maxDownloadBytes: Int64 = 4 << 30, maxUncompressedBytes: Int64 = 32 << 30, maxCompressionRatio: Double = 100
    ) {
        self.maxDownloadBytes = maxDownloadBytes
        self.maxUncompressedBytes = maxUncompressedBytes
        self.maxCompressionRatio = maxCompressionRatio
        self.mode = mode
        self.wait = wait
        self.waitTimeoutSeconds = waitTimeoutSeconds
        self.pollSeconds = pollSeconds
        self.directory = directory
        self.settleSeconds = settleSeconds
        self.seamOverlapSeconds = seamOverlapSeconds
        self.historyStart = historyStart
        self.maxAttempts = maxAttempts
        self.deleteWhenImported = deleteWhenImported
    }

    /// `$KRAKEN_AUDIT_EXPORT_DIR`, else `$STATE_DIRECTORY/exports` (systemd), else `./kraken-audit-exports`.
    public static var defaultDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        if let d = env["KRAKEN_AUDIT_EXPORT_DIR"], !d.isEmpty { return URL(fileURLWithPath: d) }
        if let s = env["STATE_DIRECTORY"], !s.isEmpty, let first = s.split(separator: ":").first {
            return URL(fileURLWithPath: String(first)).appendingPathComponent("exports")
        }
        return URL(fileURLWithPath: "kraken-audit-exports")
    }
}
