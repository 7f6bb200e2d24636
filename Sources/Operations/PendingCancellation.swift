import Foundation

/// A cancellation that may be requested before the thing to cancel exists.
final class PendingCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var requested = false
    private var action: (@Sendable () -> Void)?

    /// Runs the attached action, or remembers to run it as soon as one is attached.
    func cancel() {
        let run = lock.withLock { () -> (@Sendable () -> Void)? in
            requested = true
            return action
        }
        run?()
    }

    /// Attaches the action; runs it at once when ``cancel()`` came first.
    func attach(_ cancel: @escaping @Sendable () -> Void) {
        let now = lock.withLock { () -> Bool in
            action = cancel
            return requested
        }
        if now { cancel() }
    }
}
