import Analyser
import ArgumentParser
import AuditConfig
import Dispatch
import Foundation
import Operations

extension Severity: ExpressibleByArgument {}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The nightly job: check migrations, collect, analyse, write reports, deliver alerts, write metrics.",
        discussion: """
            One instance per database: a second concurrent run exits at once with code 5.
            SIGINT/SIGTERM stop it cleanly (the current transaction finishes, the lock is released) with 130/143.

            Exit codes: 0 success; 3 completed but some account (or phase) failed, see the report;
            4 new findings at or above --fail-on; 5 another run holds the lock; 75 temporary failure
            (every account unreachable or locked out, database down); 78 configuration error or
            unmigrated schema (run `kraken-audit migrate`); 130/143 interrupted.

            Examples:
              kraken-audit run --report-dir /var/lib/kraken-audit/reports --metrics-file /var/lib/node_exporter/kraken_audit.prom
              kraken-audit run --account main --fail-on high
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("account"), help: "Only this account (repeatable).")
    var accounts: [String] = []

    @Option(help: "Write the report set (markdown, HTML, JSON) here, one dated set per run.")
    var reportDir: String?

    @Option(help: "Write Prometheus metrics here (textfile collector format, atomically).")
    var metricsFile: String?

    @Option(help: "Exit 4 when the run created findings at or above this severity (info, low, medium, high, critical).")
    var failOn: Severity?

    func run() async throws {
        let env = try global.environment(label: "run")
        var options = RunOptions()
        options.accounts = accounts
        options.reportDirectory = reportDir
        options.metricsFile = metricsFile
        options.failOn = failOn
        let job = NightlyRun(environment: env)
        // Signals are caught before the job starts: one arriving in between still stops it cleanly.
        let cancellation = PendingCancellation()
        let stop = SignalStop { cancellation.cancel() }
        defer { stop.cancel() }
        let task = Task { try await job.run(options) }
        cancellation.attach { task.cancel() }
        do {
            let summary = try await task.value
            print(summary.headline, terminator: "")
            if let signal = stop.received { throw ExitCode(128 + signal) }
            if summary.exitStatus != .success { throw ExitCode(summary.exitStatus.rawValue) }
        } catch let e as ExitCode {
            throw e
        } catch RunError.alreadyRunning {
            FileHandle.standardError.write(Data("kraken-audit: \(RunError.alreadyRunning)\n".utf8))
            throw ExitCode(ExitStatus.alreadyRunning.rawValue)
        } catch {
            if let signal = stop.received { throw ExitCode(128 + signal) }
            throw fail(error)
        }
    }
}

/// A cancellation that may be requested before the thing to cancel exists.
final class PendingCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false
    private var action: (@Sendable () -> Void)?

    func cancel() {
        let run = lock.withLock { () -> (@Sendable () -> Void)? in
            requested = true
            return action
        }
        run?()
    }

    func attach(_ cancel: @escaping @Sendable () -> Void) {
        let now = lock.withLock { () -> Bool in
            action = cancel
            return requested
        }
        if now { cancel() }
    }
}

/// Turns SIGINT/SIGTERM into a cancellation of the running job (a second signal exits at once).
final class SignalStop: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var _received: Int32?

    var received: Int32? { lock.withLock { _received } }

    init(_ onSignal: @escaping @Sendable () -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                let first = self.lock.withLock { () -> Bool in
                    defer { if self._received == nil { self._received = sig } }
                    return self._received == nil
                }
                if first {
                    FileHandle.standardError.write(Data("kraken-audit: stopping after the current step (signal \(sig)); send it again to exit at once\n".utf8))
                    onSignal()
                } else {
                    exit(128 + sig)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    func cancel() {
        for s in sources { s.cancel() }
    }
}
