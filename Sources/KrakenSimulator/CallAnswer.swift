import AuditKernel
import KrakenAPI

/// The answer to one Kraken API call: the JSON envelope, and for a successful `RetrieveExport` the zip that is
/// sent instead of it (../shared/kraken-export-api.md §3: the file itself, not an envelope).
struct CallAnswer: Sendable {
    var envelope: JSONValue
    var binary: [UInt8]?

    init(_ envelope: JSONValue, binary: [UInt8]? = nil) {
        self.envelope = envelope
        self.binary = binary
    }
}
