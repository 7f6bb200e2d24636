import AuditKernel
import Foundation
import KrakenAPI

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Files the executable writes for other tools.
public enum SimulatorFiles {
    /// Writes the credentials JSON (`[{"account","api_key","secret","permissions"}]` plus `url`) with mode 0600.
    public static func writeCredentials(_ accounts: [SimulatedAccount], baseURL: URL, to path: String) throws(SimulatorError) {
        let doc = JSONValue.object([
            ("url", .string(baseURL.absoluteString)),
            ("accounts", .array(accounts.map(SimulatorState.accountJSON))),
        ])
        let bytes = Array((doc.jsonText + "\n").utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw .fileWrite(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        // O_CREAT's mode applies only to new files: tighten an existing one too.
        guard fchmod(fd, 0o600) == 0 else { throw .fileWrite(path: path, reason: String(cString: strerror(errno))) }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw .fileWrite(path: path, reason: String(cString: strerror(errno))) }
            written += n
        }
    }
}
