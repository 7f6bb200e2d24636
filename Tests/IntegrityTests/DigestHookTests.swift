import Foundation
import Integrity
import Logging
import Testing

/// `[integrity] hook`: the digest file's path as the only argument, a clean environment, a timeout, typed errors.
@Suite struct DigestHookTests {
    static let logger = Logger(label: "test.digest-hook")

    /// A script copying its argument into `dir/copied/` and recording its arguments and environment.
    static func copyScript(in dir: String) throws -> String {
        let path = dir + "/copy-digest"
        try write(
            """
            #!/bin/sh
            set -e
            mkdir -p "\(dir)/copied"
            cp "$1" "\(dir)/copied/"
            echo "$#" > "\(dir)/argc"
            env | sort > "\(dir)/env"
            echo "copied $1"
            """, to: path, mode: 0o755)
        return path
    }

    @Test func theHookGetsThePathAndACleanEnvironment() throws {
        try withTemporaryDirectory { dir in
            let digestPath = try DigestArchive(directory: dir + "/digests").write(try DigestArchiveTests.digest(1))
            let hook = DigestHook(
                executable: try Self.copyScript(in: dir),
                environment: [
                    "PATH": "/sbin", "HOME": "/home/audit", "DIGEST_BUCKET": "s3://worm", "KRAKEN_SECRET": "s3cr3t", "PGPASSWORD": "pw",
                ])
            let output = try hook.run(digestFile: digestPath, logger: Self.logger)
            #expect(output.contains("copied \(digestPath)"))
            let copy = dir + "/copied/" + (digestPath as NSString).lastPathComponent
            #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == Data(contentsOf: URL(fileURLWithPath: digestPath)))
            #expect(try String(contentsOfFile: dir + "/argc", encoding: .utf8) == "1\n")
            let env = try String(contentsOfFile: dir + "/env", encoding: .utf8)
            #expect(env.contains("DIGEST_BUCKET=s3://worm"))
            #expect(env.contains("HOME=/home/audit"))
            #expect(env.contains("PATH=/usr/local/bin:/usr/bin:/bin"))
            #expect(!env.contains("s3cr3t"))
            #expect(!env.contains("PGPASSWORD"))
        }
    }

    @Test func aFailingHookIsATypedErrorWithItsLastLine() throws {
        try withTemporaryDirectory { dir in
            try write("#!/bin/sh\necho 'bucket is locked' >&2\nexit 3\n", to: dir + "/fail", mode: 0o755)
            #expect {
                try DigestHook(executable: dir + "/fail").run(digestFile: dir + "/d.json", logger: Self.logger)
            } throws: { error in
                guard case IntegrityError.hookFailed(let hook, let file, let reason) = error else { return false }
                return hook == dir + "/fail" && file == dir + "/d.json" && reason.contains("status 3")
                    && reason.contains("bucket is locked")
            }
        }
    }

    @Test func aHangingHookIsKilledAtItsTimeout() throws {
        try withTemporaryDirectory { dir in
            try write("#!/bin/sh\nexec sleep 600\n", to: dir + "/hang", mode: 0o755)
            let started = Date()
            #expect(throws: IntegrityError.hookTimedOut(hook: dir + "/hang", digestFile: "f", seconds: 1)) {
                try DigestHook(executable: dir + "/hang", timeout: 1).run(digestFile: "f", logger: Self.logger)
            }
            // Killed, not waited for: far less than the 600 s the script wants.
            #expect(Date().timeIntervalSince(started) < 120)
        }
    }

    @Test func aHookThatIsNotAnExecutableFileIsRefusedBeforeRunning() throws {
        try withTemporaryDirectory { dir in
            try write("#!/bin/sh\nexit 0\n", to: dir + "/not-executable", mode: 0o644)
            for path in [dir + "/not-executable", dir + "/missing", dir, "relative/hook"] {
                #expect(throws: IntegrityError.hookNotExecutable(path: path)) {
                    try DigestHook(executable: path).run(digestFile: "f", logger: Self.logger)
                }
            }
        }
    }
}
