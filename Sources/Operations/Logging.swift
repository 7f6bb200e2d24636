import Foundation
import Logging

/// How logs are written: human-readable lines or JSON objects (for journald and files), always to stderr.
public enum LogFormat: String, Sendable, CaseIterable {
    case human, json
}

/// Installs the process-wide log handler (once per process, before any `Logger` is made).
public enum LogSetup {
    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .human:
                var h = HumanLogHandler(label: label)
                h.logLevel = level
                return h
            case .json:
                var h = JSONLogHandler(label: label)
                h.logLevel = level
                return h
            }
        }
    }
}

private let stderrLock = NSLock()

private func writeStderr(_ line: String) {
    stderrLock.lock()
    defer { stderrLock.unlock() }
    FileHandle.standardError.write(Data(line.utf8))
}

private func flatten(_ base: Logger.Metadata, _ extra: Logger.Metadata?) -> Logger.Metadata {
    guard let extra else { return base }
    return base.merging(extra) { _, new in new }
}

/// `2026-11-26T05:34:27Z info  message key=value` lines.
public struct HumanLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let all = flatten(metadata, event.metadata)
        let meta = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = ISO8601DateFormatter().string(from: Date())
        let lvl = event.level.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
        writeStderr("\(time) \(lvl) \(event.message)\(meta.isEmpty ? "" : " " + meta)\n")
    }
}

/// One JSON object per line: `{"time":...,"level":...,"label":...,"message":...,"metadata":{...}}`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: Any] = [
            "time": ISO8601DateFormatter().string(from: Date()), "level": event.level.rawValue, "label": label,
            "message": "\(event.message)",
        ]
        let all = flatten(metadata, event.metadata)
        if !all.isEmpty { object["metadata"] = all.mapValues { "\($0)" } }
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            writeStderr(String(decoding: data, as: UTF8.self) + "\n")
        }
    }
}
