import Foundation

/// A live progress line per account on a terminal (stderr), e.g.
/// `main: Ledgers 1,250/20,000 rows, ~6 min left`. Only used when stderr is a TTY and logs are human.
public final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String: String] = [:]
    private let decayPerPage: Double

    /// `secondsPerPage` is the steady-state pace the counter allows (cost / decay), for the estimate.
    public init(secondsPerPage: Double) { decayPerPage = secondsPerPage }

    /// Whether stderr is a terminal.
    public static var isTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    func update(account: String, endpoint: String, rows: Int, total: Int?) {
        var text = "\(account): \(endpoint) \(rows)"
        if let total, total > 0 {
            text += "/\(total) rows"
            let pagesLeft = Double(max(0, total - rows)) / 50
            let eta = Int((pagesLeft * decayPerPage).rounded(.up))
            if eta > 0 { text += ", ~\(eta >= 60 ? "\(eta / 60) min" : "\(eta) s") left" }
        } else {
            text += " rows"
        }
        lock.withLock {
            lines[account] = text
            render()
        }
    }

    func finish(account: String) {
        lock.withLock {
            lines[account] = nil
            render()
        }
    }

    private func render() {
        let text = lines.keys.sorted().compactMap { lines[$0] }.joined(separator: " | ")
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + String(text.prefix(200))).utf8))
    }
}
