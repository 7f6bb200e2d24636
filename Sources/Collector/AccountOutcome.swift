/// The outcome of collecting one account.
public struct AccountOutcome: Sendable {
    public let account: String
    public let runId: Int64?
    /// nil when the account completed.
    public let error: CollectError?
    public let endpoints: [String: EndpointStats]

    public var succeeded: Bool { error == nil }
}
