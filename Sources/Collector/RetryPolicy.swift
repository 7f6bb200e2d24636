import Foundation

/// How transient failures are retried: jittered exponential backoff, each attempt with a fresh nonce.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double

    public init(maxAttempts: Int = 5, baseDelay: Double = 1, maxDelay: Double = 30) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Delay before attempt `n` (n >= 1): full jitter over base * 2^(n-1), capped.
    func delay(attempt n: Int) -> Double {
        let ceiling = min(maxDelay, baseDelay * pow(2, Double(n - 1)))
        return Double.random(in: (ceiling / 2)...ceiling)
    }
}
