/// Reconnect delays of one account's stream: exponential with jitter (../shared/kraken-websocket.md §5: "exponential
/// backoff with jitter"; after maintenance at most once per 5 s). A connection that stayed subscribed for
/// ``healthySeconds`` resets the sequence, so a rare drop reconnects at once.
public struct Backoff: Sendable {
    public var base: Double = 0.5
    public var cap: Double = 60
    /// After Kraken announced maintenance (or another non-online state), never sooner than this.
    public var maintenanceFloor: Double = 5
    /// A connection subscribed at least this long counts as healthy.
    public var healthySeconds: Double = 60
    private(set) var failures = 0

    public init() {}

    /// The delay before the next attempt. `healthy`: the last connection was subscribed long enough;
    /// `maintenance`: its last status was not `online`; `random` is a value in 0..<1 (tests pass a fixed one).
    public mutating func next(healthy: Bool, maintenance: Bool, random: Double = Double.random(in: 0..<1)) -> Double {
        if healthy { failures = 0 }
        failures += 1
        // The first reconnect after a healthy connection is immediate (a random drop); then 0.5, 1, 2, ... s.
        var delay = failures == 1 ? 0 : min(cap, base * Double(1 << min(failures - 2, 20)))
        delay *= 0.5 + 0.5 * random  // jitter: accounts dropped together do not reconnect together
        if maintenance { delay = max(delay, maintenanceFloor) }
        return delay
    }
}

/// Connection attempts of one process, across its accounts, within Kraken's limit: Cloudflare allows about 150
/// (re)connection attempts per rolling 10 minutes per IP address and bans it for 10 minutes beyond
/// (../shared/kraken-websocket.md §2). `watch` keeps to ``limit`` (default 100) so other tools on the host have room.
public actor ConnectionBudget {
    public let limit: Int
    public let windowSeconds: Double
    private var attempts: [ContinuousClock.Instant] = []

    public init(limit: Int = 100, windowSeconds: Double = 600) {
        self.limit = max(1, limit)
        self.windowSeconds = windowSeconds
    }

    /// Waits until one more attempt fits into the window, then records it. Throws `CancellationError` when cancelled.
    public func acquire() async throws {
        while true {
            let now = ContinuousClock.now
            attempts.removeAll { now - $0 > .milliseconds(Int64(windowSeconds * 1000)) }
            if attempts.count < limit {
                attempts.append(now)
                return
            }
            let oldest = attempts[0]
            let wait = oldest + .milliseconds(Int64(windowSeconds * 1000)) - now
            try await Task.sleep(for: max(wait, .milliseconds(10)))
        }
    }
}
