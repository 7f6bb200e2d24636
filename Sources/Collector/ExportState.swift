import AuditStore

/// Where one requested export report stands: `audit.exports.status`. The raw values are the stored text (a schema
/// contract: the table's CHECK constraint, the analyst views and `collect`'s summary name them).
///
/// `requesting` → `requested` → `processed` → `downloaded` → `imported`; `rejected`, `failed` and `expired` end an
/// attempt, and the same window is requested again a bounded number of times (see ``ExportBackfill``).
enum ExportState: String, Sendable, CaseIterable, PGEncodable {
    /// The row is written before AddExport; after a kill the report is found again by its description.
    case requesting
    /// Kraken accepted the request (Queued or Processing).
    case requested
    /// Kraken finished the report; it can be downloaded.
    case processed
    /// The archive is on disk, its SHA-256 recorded.
    case downloaded
    /// Imported in one transaction.
    case imported
    /// The file was refused (nothing imported).
    case rejected
    /// Kraken finished the report with an error.
    case failed
    /// Kraken no longer lists the report.
    case expired

    /// States a later step moves on from (`--wait` keeps polling while the latest attempt is in one).
    var isInProgress: Bool {
        switch self {
        case .requesting, .requested, .processed, .downloaded: return true
        case .imported, .rejected, .failed, .expired: return false
        }
    }

    var pgText: String { rawValue }
}
