import ChildProcesses
import Foundation
import Integrity
import Logging
import Operations
import Testing

/// `kraken-audit keygen --out FILE` and the exit codes of ``IntegrityError``.
@Suite struct KeygenTests {
    static var repo: URL {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }

    /// Runs the built `kraken-audit` with `args` in `directory`, without any configuration file around.
    static func kraken(_ args: [String], in directory: String) throws -> (status: Int32, output: String) {
        let binary = repo.appendingPathComponent(".build/debug/kraken-audit").path
        // `cd` so a relative --out resolves against `directory`; no KRAKEN_AUDIT_CONFIG, no ./kraken-audit.toml.
        let (termination, output) = try ChildProcess.run(
            "/bin/sh", arguments: ["-c", "cd \"$0\" && exec \"$@\"", directory, binary] + args,
            environment: ["PATH": "/usr/bin:/bin", "HOME": directory], timeout: 120)
        return (termination?.status ?? -1, output)
    }

    @Test func theBinaryWritesBothFilesAndPrintsTheConfigLine() throws {
        try withTemporaryDirectory { dir in
            let (status, output) = try Self.kraken(["keygen", "--out", "signing.key"], in: dir)
            #expect(status == 0, "\(output)")
            let key = try Ed25519PrivateKey.load(path: dir + "/signing.key")
            let publicKey = try Ed25519PublicKey.load(path: dir + "/signing.key.pub")
            #expect(publicKey == key.publicKey)
            #expect(mode(dir + "/signing.key") == 0o600)
            #expect(mode(dir + "/signing.key.pub") == 0o644)
            #expect(output.contains(key.publicKey.pemRepresentation))
            #expect(output.contains("Fingerprint: \(key.publicKey.fingerprint)"))
            #expect(output.contains("[integrity]\nsigning_key_file = \"\(dir)/signing.key\"\n"))
            // The printed public key is what openssl derives from the private file.
            let derived = try openssl(["pkey", "-in", dir + "/signing.key", "-pubout"])
            #expect(output.contains(derived.output))
        }
    }

    @Test func anExistingFileExits73AndIsLeftAlone() throws {
        try withTemporaryDirectory { dir in
            try write("old key\n", to: dir + "/signing.key", mode: 0o600)
            let (status, output) = try Self.kraken(["keygen", "--out", dir + "/signing.key"], in: dir)
            #expect(status == 73, "\(output)")
            #expect(output.contains("\(dir)/signing.key already exists"), "\(output)")
            #expect(try String(contentsOfFile: dir + "/signing.key", encoding: .utf8) == "old key\n")
            #expect(!FileManager.default.fileExists(atPath: dir + "/signing.key.pub"))

            // An existing .pub refuses too, before the private key is written.
            try write("old public\n", to: dir + "/other.key.pub")
            let second = try Self.kraken(["keygen", "--out", "other.key"], in: dir)
            #expect(second.status == 73, "\(second.output)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/other.key"))
        }
    }

    @Test func aMissingDirectoryIsACantCreateError() async throws {
        do {
            _ = try await KeygenOperation(output: "/nonexistent-dir/signing.key").run(logger: Logger(label: "test"))
            Issue.record("keygen wrote into a directory that does not exist")
        } catch {
            guard case IntegrityError.keyFileWrite(let path, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(path == "/nonexistent-dir/signing.key")
            #expect(Operations.ExitStatus.forError(error) == .cantCreate)
        }
    }

    @Test(arguments: [
        (IntegrityError.keyFileMissing(path: "p"), Operations.ExitStatus.config), (.keyFileNotPrivate(path: "p", mode: "0644"), .config),
        (.keyFileOwner(path: "p", owner: 1, expected: 2), .config), (.keyFileUnreadable(path: "p", reason: "r"), .config),
        (.invalidKey(source: "s", reason: "r"), .config), (.fingerprintMismatch(document: "a", key: "b"), .config),
        (.hookNotExecutable(path: "h"), .config), (.digestDirectory(path: "d", reason: "r"), .config),
        (.keyFileExists(path: "p"), .cantCreate), (.keyFileWrite(path: "p", reason: "r"), .cantCreate),
        (.digestFileIO(path: "p", reason: "r"), .cantCreate), (.digestFileConflict(path: "p"), .cantCreate),
        (.malformedDigest(path: nil, reason: "r"), .dataError), (.notCanonicalizable(reason: "r"), .dataError),
        (.hookFailed(hook: "h", digestFile: "f", reason: "r"), .unavailable),
        (.hookTimedOut(hook: "h", digestFile: "f", seconds: 1), .unavailable), (.crypto(operation: "o", reason: "r"), .software),
    ])
    func exitCodes(error: IntegrityError, status: Operations.ExitStatus) {
        #expect(Operations.ExitStatus.forError(error) == status)
    }
}
