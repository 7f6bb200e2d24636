import ChildProcesses
import Foundation
import Testing

/// A fresh private directory for one test, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("integrity-test-XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
    let dir = String(cString: made)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try body(dir)
}

/// Hex text → bytes (test vectors).
func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.filter { !$0.isWhitespace }.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// Runs the `openssl` command line tool; returns its exit status and output (stdout and stderr).
func openssl(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let (termination, output) = try ChildProcess.run(
        "/usr/bin/env", arguments: ["openssl"] + arguments, environment: ["PATH": "/usr/local/bin:/usr/bin:/bin"], timeout: 120)
    return (termination?.status ?? -1, output)
}

/// The file's permission bits.
func mode(_ path: String) -> mode_t {
    var st = stat()
    guard stat(path, &st) == 0 else { return 0 }
    return st.st_mode & 0o7777
}

/// Writes `text` to `path` (replacing it) with `mode`. The descriptor is close-on-exec: a child another test spawns
/// at the same moment must not inherit it, or exec'ing this file as a script fails with ETXTBSY ("Text file busy").
func write(_ text: String, to path: String, mode: mode_t = 0o644) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else { throw POSIXError(.EIO) }
    fchmod(fd, mode)
}
