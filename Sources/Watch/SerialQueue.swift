/// Runs one operation at a time, in call order: an account's collections (gap fills, WithdrawStatus) must never
/// overlap, and a process's session lease on the account would not stop its own second collection (advisory
/// locks are re-entrant within a session).
actor SerialQueue {
    private var tail: Task<Void, Never>? = nil

    /// Runs `operation` after every operation enqueued before it; cancelling the caller cancels it.
    func run(_ operation: @escaping @Sendable () async -> Void) async {
        let previous = tail
        let task = Task {
            await previous?.value
            await operation()
        }
        tail = task
        await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
    }
}
