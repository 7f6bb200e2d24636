import Foundation

/// An HTTP request as the simulator sees it (transport-independent, so tests may call the state directly).
public struct SimHTTPRequest: Sendable {
    public var method: String
    /// Path without the query string, e.g. `/0/private/Ledgers`.
    public var path: String
    public var query: String
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String, query: String = "", headers: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, _ in a })
        self.body = body
    }
}
