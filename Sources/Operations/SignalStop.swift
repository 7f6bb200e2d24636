import Dispatch
import Foundation

/// Turns SIGINT/SIGTERM into a cancellation of the running job (a second signal exits at once).
final class SignalStop: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var _received: Int32?

    /// The first signal received, if any.
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
                    FileHandle.standardError.write(
                        Data("kraken-audit: stopping after the current step (signal \(sig)); send it again to exit at once\n".utf8))
                    onSignal()
                } else {
                    exit(128 + sig)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Stops listening (the signals stay ignored until the process exits).
    func cancel() {
        for s in sources { s.cancel() }
    }
}
