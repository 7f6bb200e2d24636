/// What the transport must do with a request.
public enum SimHTTPResponse: Sendable, Equatable {
    /// Send this status, content type and body after `delay` seconds.
    case respond(status: Int, contentType: String, body: [UInt8], delay: Double)
    /// Close the connection without any response (after `delay` seconds).
    case reset(delay: Double)
}
