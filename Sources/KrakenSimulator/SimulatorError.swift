import Foundation

/// Errors of the simulator library.
public enum SimulatorError: Error, CustomStringConvertible, Equatable {
    /// An option or control request is invalid.
    case invalidOption(String)
    /// The HTTP server could not start (address in use, bad host).
    case serverStart(String)
    /// A file (truth, credentials) could not be written.
    case fileWrite(path: String, reason: String)
    /// An unknown account name was given.
    case unknownAccount(String)

    public var description: String {
        switch self {
        case .invalidOption(let s): "invalid simulator option: \(s)"
        case .serverStart(let s): "the simulator could not start listening: \(s) (pick another --port or --host)"
        case .fileWrite(let path, let reason): "could not write \(path): \(reason)"
        case .unknownAccount(let name): "no simulated account named '\(name)'"
        }
    }
}
