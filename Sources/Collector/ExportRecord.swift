/// One `audit.exports` row as the state machine needs it.
struct ExportRecord: Sendable {
    let id: Int64
    let report: String
    let krakenId: String?
    let descr: String
    let attempt: Int
    let status: ExportState
    let starttm: Int64
    let endtm: Int64
    let filePath: String?
    let sha256: String?
    let krakenStatus: String?
}
