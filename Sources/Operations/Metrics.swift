import Foundation
import Reports

/// Prometheus text exposition (for node_exporter's textfile collector), written atomically.
public struct MetricsFile: Sendable {
    struct Sample: Sendable {
        let labels: [(String, String)]
        let value: Double
    }
    struct Family: Sendable {
        let name: String
        let help: String
        let type: String
        var samples: [Sample]
    }

    private var families: [Family] = []

    public init() {}

    /// Adds a sample of gauge `name` (`kraken_audit_` is prefixed).
    public mutating func gauge(_ name: String, _ help: String, _ value: Double, labels: [(String, String)] = []) {
        let full = "kraken_audit_" + name
        if let i = families.firstIndex(where: { $0.name == full }) {
            families[i].samples.append(Sample(labels: labels, value: value))
        } else {
            families.append(Family(name: full, help: help, type: "gauge", samples: [Sample(labels: labels, value: value)]))
        }
    }

    /// The exposition text.
    public var text: String {
        var o = ""
        for f in families {
            o += "# HELP \(f.name) \(f.help)\n# TYPE \(f.name) \(f.type)\n"
            for s in f.samples {
                let labels = s.labels.isEmpty ? "" : "{" + s.labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
                o += "\(f.name)\(labels) \(Self.format(s.value))\n"
            }
        }
        return o
    }

    /// Writes the exposition atomically, mode 0644 whatever the umask: node_exporter's textfile collector
    /// runs as another user and must read it (it holds counts and timestamps, no financial data).
    public func write(to path: String) throws(OutputError) {
        try AtomicFile.write(text, to: path, mode: AtomicFile.publicReadableMode)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(
            of: "\n", with: "\\n")
    }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: "%.6f", v)
    }
}
