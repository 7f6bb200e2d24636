import AuditStore

/// Why a Kraken data export could not be downloaded or imported. Each case names the problem and what to do;
/// the message is stored in `audit.exports.error`. Nothing of a refused file is imported.
public enum ExportError: Error, CustomStringConvertible, Equatable {
    /// `RetrieveExport` answered with something that is not a zip archive.
    case notZip(krakenId: String, detail: String)
    /// The archive cannot be read (truncated download, bad CRC, not a zip).
    case corruptZip(path: String, reason: String)
    /// The archive does not hold exactly one CSV file.
    case unexpectedArchive(path: String, entries: [String])
    /// The CSV header lacks columns the importer needs (Kraken changed the layout), repeats one, or is unreadable.
    case headerChanged(report: String, problem: String, header: [String])
    /// A value could not be parsed (PostgreSQL's message, with the SQLSTATE).
    case badData(report: String, reason: String)
    /// The same id appears more than once in the file.
    case duplicateIds(report: String, count: Int, examples: [String])
    /// Rows lie outside the data window the report was requested for.
    case outsideWindow(report: String, count: Int, example: String)
    /// After the import, the database does not hold every id of the file.
    case countMismatch(report: String, keyed: Int, stored: Int)
    /// Kraken finished the report with an error.
    case krakenFailed(krakenId: String, error: String)
    /// The downloaded file is gone or changed since it was verified.
    case fileMissing(path: String, reason: String)
    /// Kraken named a report with an id that cannot safely be part of a file name (not `[A-Za-z0-9-]{1,64}`).
    /// `shown` is the id escaped and shortened for the message.
    case badKrakenId(shown: String)
    /// The archive's entry would unpack to more than the limit, or is compressed beyond any real CSV (a zip bomb).
    case entryTooLarge(path: String, entry: String, problem: String)
    /// The export file or its directory is not what kraken-audit created (a symlink, not a regular file) or
    /// cannot be created privately.
    case unsafeFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .notZip(let id, let detail):
            return "RetrieveExport \(id) did not return a zip archive (\(detail)); the next run downloads it again"
        case .corruptZip(let path, let reason):
            return
                "the export file \(path) is not a readable zip archive (\(reason)); nothing was imported; the report is requested again on the next run"
        case .unexpectedArchive(let path, let entries):
            return
                "the export file \(path) should hold exactly one .csv file but holds [\(entries.joined(separator: ", "))]; nothing was imported"
        case .headerChanged(let report, let problem, let header):
            return
                "the \(report) export's CSV header changed (\(problem); header: \(header.joined(separator: ","))); nothing was imported: update kraken-audit's importer for this layout (ExportImporter.swift), or use backfill = \"paging\""
        case .badData(let report, let reason):
            return "the \(report) export holds a value kraken-audit cannot store exactly (\(reason)); nothing was imported"
        case .duplicateIds(let report, let count, let examples):
            return "the \(report) export repeats \(count) id(s) (e.g. \(examples.joined(separator: ", "))); nothing was imported"
        case .outsideWindow(let report, let count, let example):
            return "the \(report) export holds \(count) row(s) outside the requested window (e.g. \(example)); nothing was imported"
        case .countMismatch(let report, let keyed, let stored):
            return "after importing the \(report) export the database holds \(stored) of its \(keyed) ids; the import was rolled back"
        case .krakenFailed(let id, let error):
            return "Kraken finished export \(id) with '\(error)'; it is requested again (for 'size too big', backfill with paging)"
        case .fileMissing(let path, let reason):
            return "the downloaded export \(path) \(reason); it is downloaded again"
        case .badKrakenId(let shown):
            return
                "Kraken named an export \(shown), which is not 1-64 letters, digits or '-'; it is not used in a file name and nothing was downloaded (check api_url: Kraken's ids look like 'TCJA')"
        case .entryTooLarge(let path, let entry, let problem):
            return
                "the export file \(path) was refused before unpacking: its entry \(entry) \(problem); nothing was imported (a damaged or hostile archive; if genuine, raise the export limits)"
        case .unsafeFile(let path, let reason):
            return "the export file \(path) \(reason); nothing was read from it"
        }
    }

    /// Whether requesting the same report again may help (a corrupt download), as opposed to a layout change.
    var retryable: Bool {
        switch self {
        case .notZip, .corruptZip, .krakenFailed, .fileMissing, .countMismatch, .badKrakenId, .unsafeFile: return true
        case .unexpectedArchive, .headerChanged, .badData, .duplicateIds, .outsideWindow, .entryTooLarge: return false
        }
    }

    /// `id` quoted with non-printable and non-ASCII characters escaped, at most 80 characters: safe in a log line
    /// and in `audit.exports.error`.
    static func shown(_ id: String) -> String {
        var out = ""
        for scalar in id.unicodeScalars.prefix(80) {
            if scalar.isASCII, scalar.value >= 0x20, scalar.value < 0x7F, scalar != "\"", scalar != "\\" {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            }
        }
        return "\"" + out + (id.unicodeScalars.count > 80 ? "..." : "") + "\" (\(id.unicodeScalars.count) characters)"
    }
}
