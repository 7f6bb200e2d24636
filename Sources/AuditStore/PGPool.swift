import Foundation
import Logging

/// A bounded set of ``PGConnection``s shared by every task of a process (issue 18).
///
/// `run` borrows a free connection (opening one while fewer than `size` exist, else waiting first come, first
/// served), runs the block on that connection's own queue and gives it back. A task that waits for Kraken's
/// counter or an HTTP answer holds no connection, so a thousand accounts share a handful of connections.
/// A connection whose session broke (server restart, network) is closed instead of returned; the next borrower
/// opens a fresh one. Every new connection runs `prepare` first (e.g. the collector's temporary staging tables).
public final class PGPool: PGRunner, @unchecked Sendable {
    /// How many connections the pool may hold open.
    public let size: Int
    private let url: String?
    private let applicationName: String
    private let prepare: (@Sendable (PGConnection) throws -> Void)?
    private let logger: Logger
    private let lock = NSLock()
    private var idle: [PGConnection] = []
    private var open = 0
    private var peak = 0
    private var closed = false
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<PGConnection?, Never>)] = []
    private var nextWaiter: UInt64 = 0

    public init(
        url: String?, size: Int, applicationName: String = "kraken-audit", logger: Logger,
        prepare: (@Sendable (PGConnection) throws -> Void)? = nil
    ) {
        precondition(size >= 1, "a pool needs at least one connection")  // the config key's range starts at 1
        self.url = url
        self.size = size
        self.applicationName = applicationName
        self.logger = logger
        self.prepare = prepare
    }

    /// The most connections open at once so far (for benchmarks and the summary).
    public var peakConnections: Int { lock.withLock { peak } }

    public func run<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        let connection = try await borrow()
        var healthy = true
        defer { giveBack(connection, healthy: healthy) }
        do {
            return try await connection.run(body)
        } catch let error as PGError where error.kind == .connection || !connection.isAlive {
            healthy = false
            throw error
        }
    }

    /// Borrows a second connection only if one is idle or may be opened without exceeding `size`: a caller that
    /// already holds one never waits for another (with a pool of one, or all busy, that would be a deadlock).
    public func runWithSpare<T: Sendable>(_ body: @escaping @Sendable (PGConnection, PGConnection?) throws -> T) async throws -> T {
        let connection = try await borrow()
        var healthy = true
        defer { giveBack(connection, healthy: healthy) }
        let spare = await borrowIfFree()
        // Given back like any connection: closed if its session broke or `body` left it inside a transaction.
        defer { if let spare { giveBack(spare, healthy: true) } }
        do {
            return try await connection.run { try body($0, spare) }
        } catch let error as PGError where error.kind == .connection || !connection.isAlive {
            healthy = false
            throw error
        }
    }

    /// An idle connection, or a new one while fewer than `size` are open; nil instead of waiting (or when opening
    /// one fails: the caller works without it).
    private func borrowIfFree() async -> PGConnection? {
        switch takeSlot() {
        case .ready(let c):
            return c
        case .openNew:
            do {
                return try await openConnection()
            } catch {
                lock.withLock { open -= 1 }
                wakeOneWaiter()
                return nil
            }
        case .wait, .closed:
            return nil
        }
    }

    /// Closes every idle connection and refuses further borrowing; busy ones close when given back.
    public func close() {
        let (toClose, toWake) = lock.withLock { () -> ([PGConnection], [CheckedContinuation<PGConnection?, Never>]) in
            closed = true
            defer {
                idle = []
                waiters = []
            }
            open -= idle.count
            return (idle, waiters.map(\.continuation))
        }
        toClose.forEach { $0.close() }
        toWake.forEach { $0.resume(returning: nil) }
    }

    deinit {
        idle.forEach { $0.close() }
    }

    private enum Slot {
        case ready(PGConnection)
        case openNew
        case wait
        case closed
    }

    /// An idle connection, else a slot to open one in (counted as open from here), else `.wait`.
    private func takeSlot() -> Slot {
        lock.withLock { () -> Slot in
            if closed { return .closed }
            if let c = idle.popLast() { return .ready(c) }
            if open < size {
                open += 1
                peak = max(peak, open)
                return .openNew
            }
            return .wait
        }
    }

    private func borrow() async throws -> PGConnection {
        while true {
            if Task.isCancelled { throw CancellationError() }
            let slot = takeSlot()
            switch slot {
            case .ready(let c):
                return c
            case .closed:
                throw PGError(kind: .connection, message: "the connection pool is closed")
            case .openNew:
                do {
                    return try await openConnection()
                } catch {
                    lock.withLock { open -= 1 }
                    wakeOneWaiter()  // a slot is free again: a waiter may open one itself
                    throw error
                }
            case .wait:
                if let c = await waitForConnection() { return c }
            // Woken without a connection: a slot was freed (or the pool closed); look again.
            }
        }
    }

    private func openConnection() async throws -> PGConnection {
        let (url, name, logger, prepare) = (self.url, applicationName, self.logger, self.prepare)
        // libpq's connect blocks: done on a dispatch queue, never on the cooperative pool.
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        let c = try PGConnection(url: url, applicationName: name, logger: logger)
                        do {
                            try prepare?(c)
                        } catch {
                            c.close()
                            throw error
                        }
                        return c
                    })
            }
        }
    }

    private func waitForConnection() async -> PGConnection? {
        let id = lock.withLock { () -> UInt64 in
            nextWaiter += 1
            return nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<PGConnection?, Never>) in
                let resumeNow = lock.withLock { () -> Bool in
                    // Re-checked under the lock: a connection given back between the caller's check and here must
                    // not be missed.
                    if closed || !idle.isEmpty || open < size || Task.isCancelled { return true }
                    waiters.append((id, continuation))
                    return false
                }
                if resumeNow { continuation.resume(returning: nil) }
            }
        } onCancel: {
            let waiter = lock.withLock { () -> CheckedContinuation<PGConnection?, Never>? in
                guard let i = waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return waiters.remove(at: i).continuation
            }
            waiter?.resume(returning: nil)
        }
    }

    private func giveBack(_ connection: PGConnection, healthy: Bool) {
        let usable = healthy && connection.isReusable
        let waiter = lock.withLock { () -> CheckedContinuation<PGConnection?, Never>? in
            if usable && !closed {
                if !waiters.isEmpty { return waiters.removeFirst().continuation }
                idle.append(connection)
                return nil
            }
            open -= 1
            return waiters.isEmpty ? nil : waiters.removeFirst().continuation
        }
        if !usable || (closed && waiter == nil) {
            if !usable {
                logger.notice("database connection lost or left inside a transaction: closed; the pool opens a new one when needed")
            }
            connection.close()
            waiter?.resume(returning: nil)
            return
        }
        waiter?.resume(returning: connection)
    }

    private func wakeOneWaiter() {
        let waiter = lock.withLock { waiters.isEmpty ? nil : waiters.removeFirst().continuation }
        waiter?.resume(returning: nil)
    }
}
