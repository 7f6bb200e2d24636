import Foundation
import Logging

/// Collects every log record (level, message, metadata) a logger emits, for assertions on what was logged.
public final class CapturedLogs: @unchecked Sendable {
    public struct Record: Sendable {
        public let level: Logger.Level
        public let message: String
        public let metadata: Logger.Metadata
    }

    private let lock = NSLock()
    private var stored: [Record] = []

    public init() {}

    /// Every record so far, in order.
    public var records: [Record] { lock.withLock { stored } }

    /// One line per record: `level message key=value ...` (metadata sorted by key).
    public var text: String {
        records.map { r in
            "\(r.level) \(r.message) " + r.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }.joined(separator: "\n")
    }

    public func clear() { lock.withLock { stored = [] } }

    /// A logger whose handler records into this collector, at `level` and above.
    public func logger(label: String = "capture", level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: label) { _ in Handler(sink: self, logLevel: level) }
        logger.logLevel = level
        return logger
    }

    fileprivate func append(_ record: Record) { lock.withLock { stored.append(record) } }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level

        init(sink: CapturedLogs, logLevel: Logger.Level) {
            self.sink = sink
            self.logLevel = logLevel
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            sink.append(Record(level: event.level, message: event.message.description, metadata: all))
        }
    }
}
