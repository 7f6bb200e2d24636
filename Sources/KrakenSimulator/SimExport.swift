import Foundation
import KrakenAPI
import ZIPFoundation

/// The file of one report, built on a background queue (a 1M-row file takes seconds; building it inside the
/// state actor would hold a cooperative thread and stall every in-process simulator).
final class ExportBuild: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<[UInt8], EndpointError>?
    var value: Result<[UInt8], EndpointError>? { lock.withLock { result } }
    func finish(_ r: Result<[UInt8], EndpointError>) { lock.withLock { result = r } }
}

/// One report requested with `AddExport` (../shared/kraken-export-api.md §1-§4).
struct SimExport: Sendable {
    let id: String
    let account: String
    let report: String
    let descr: String
    let format: String
    let fields: [String]?
    let dataStart: Int64
    let dataEnd: Int64
    let createdTicks: Int64
    /// Failure text a `Processed` report carries (``SimulatorOptions/exportError`` at request time).
    let error: String?
    let build = ExportBuild()

    /// Queued, then Processing until the configured delay has passed and the file is built.
    func status(nowTicks: Int64, options: SimulatorOptions) -> (status: String, completedTicks: Int64?) {
        let queued = createdTicks + Int64(options.exportQueuedSeconds * 10_000)
        let done = queued + Int64(options.exportProcessingSeconds * 10_000)
        if nowTicks < queued { return ("Queued", nil) }
        if nowTicks < done || build.value == nil { return ("Processing", nil) }
        return ("Processed", done)
    }
}
