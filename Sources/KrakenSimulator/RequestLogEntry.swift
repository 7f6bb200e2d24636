import AuditKernel
import KrakenAPI

/// One line of the request log.
public struct RequestLogEntry: Sendable {
    public let sequence: Int
    public let time: Int64
    public let httpMethod: String
    public let path: String
    public let account: String?
    public let nonce: UInt64?
    public let httpStatus: Int?
    public let errors: [String]
    public let fault: String?
    public let counterAfter: Double?

    var json: JSONValue {
        var m: [(String, JSONValue)] = [
            ("seq", .number(String(sequence))), ("time", .string(TimeFormat.iso(ticks: time))),
            ("http_method", .string(httpMethod)), ("path", .string(path)),
            ("account", account.map(JSONValue.string) ?? .null), ("nonce", nonce.map { .string(String($0)) } ?? .null),
            ("http_status", httpStatus.map { .number(String($0)) } ?? .null),
            ("errors", .array(errors.map(JSONValue.string))), ("fault", fault.map(JSONValue.string) ?? .null),
        ]
        m.append(("counter_after", counterAfter.map { .number(CounterSnapshot.num($0)) } ?? .null))
        return .object(m)
    }
}
