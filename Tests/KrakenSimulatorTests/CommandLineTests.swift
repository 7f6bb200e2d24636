import ChildProcesses
import Foundation
import Testing

/// The `kraken-simulator` executable's options (issue 16, part 4: options as enums where users type them).
@Suite struct CommandLineTests {
    /// Runs the executable to completion; exit status and stdout + stderr.
    static func run(_ arguments: [String]) async throws -> (Int32, String) {
        let exe = try #require(ExternalClientTests.executable)
        let p = try ChildProcess.start(exe, arguments: arguments, environment: ProcessInfo.processInfo.environment)
        let termination = await p.exitOrKill(timeout: 60)
        p.waitForOutput(timeout: 5)
        return (termination?.status ?? -1, p.stdoutText)
    }

    @Test(.enabled(if: ExternalClientTests.executable != nil)) func helpListsTheTiers() async throws {
        let (status, out) = try await Self.run(["--help"])
        #expect(status == 0)
        // The help wraps at the terminal's width: compare with the line breaks taken out.
        let text = out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(
            text.contains(
                "--tier <tier> Rate-limit tier (Kraken verification level: counter maximum and decay). (values: starter, intermediate, pro; default: starter)"
            ), "\(out)")
    }

    @Test(.enabled(if: ExternalClientTests.executable != nil)) func anUnknownTierIsAUsageError() async throws {
        let (status, out) = try await Self.run(["--tier", "platinum"])
        #expect(status == 64, "\(out)")
        #expect(out.contains("The value 'platinum' is invalid for '--tier <tier>'"), "\(out)")
        #expect(out.contains("'starter', 'intermediate' or 'pro'"), "\(out)")
    }
}
