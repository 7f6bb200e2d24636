import Foundation

/// Blocking database work started on another thread with a connection of its own, and joined by ``wait()``: for a
/// caller of ``PGRunner/runWithSpare(_:)`` whose two connections work at once (each server backend on its own core).
///
/// The caller must call ``wait()`` before its block returns, on every path: the spare connection goes back to the
/// pool when the block ends, and must not be in use then.
public final class AlongsideWork<T: Sendable>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written once by the worker before `done` is signalled, read only after waiting for it.
    private var outcome: Result<T, any Error> = .failure(CancellationError())

    /// Starts `body` on `connection` at once.
    public init(on connection: PGConnection, _ body: @escaping @Sendable (PGConnection) throws -> T) {
        DispatchQueue.global().async { [self] in
            outcome = Result { try body(connection) }
            done.signal()
        }
    }

    /// Waits until the work has ended and returns its outcome (any number of times).
    public func wait() -> Result<T, any Error> {
        done.wait()
        done.signal()  // the next caller does not wait
        return outcome
    }
}
