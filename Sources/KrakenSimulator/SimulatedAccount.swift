/// A simulated account's credentials.
public struct SimulatedAccount: Sendable, Equatable {
    public let name: String
    public let apiKey: String
    /// Base64 of 64 deterministic bytes.
    public let secret: String
    public let permissions: [String]
}
