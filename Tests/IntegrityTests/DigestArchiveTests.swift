import Foundation
import Integrity
import Testing

/// The digest directory: one file per digest, written atomically, never changed, every file read back.
@Suite struct DigestArchiveTests {
    static func digest(_ sequence: Int64, previous: String? = nil) throws -> SignedDigest {
        var document = SignedDigestTests.document(sequence: sequence)
        document.previousDigestHash = sequence == 1 ? nil : (previous ?? SignedDigestTests.hashA)
        return try SignedDigest.sign(document, with: SignedDigestTests.key)
    }

    @Test func writeCreatesTheDatedPathWithPublicModes() throws {
        try withTemporaryDirectory { dir in
            let old = umask(0o077)
            defer { umask(old) }
            let archive = DigestArchive(directory: dir + "/digests")
            let digest = try Self.digest(1)
            let path = try archive.write(digest)
            #expect(path == dir + "/digests/" + digest.relativePath)
            #expect(archive.path(for: digest) == path)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(digest.fileBytes()))
            #expect(mode(path) == 0o644)
            #expect(mode(dir + "/digests/7321234567890123456_kraken_audit/2026/11") == 0o755)
            // No temporary file is left next to it.
            let siblings = try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent)
            #expect(siblings == [digest.fileName])
        }
    }

    @Test func writingTheSameDigestAgainIsHarmlessButADifferentOneIsRefused() throws {
        try withTemporaryDirectory { dir in
            let archive = DigestArchive(directory: dir)
            let digest = try Self.digest(2)
            let path = try archive.write(digest)
            #expect(try archive.write(digest) == path)
            // Same sequence and time (so the same name), different contents.
            let other = try Self.digest(2, previous: SignedDigestTests.hashB)
            #expect(other.relativePath == digest.relativePath)
            #expect(throws: IntegrityError.digestFileConflict(path: path)) { try archive.write(other) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(digest.fileBytes()))
        }
    }

    @Test func readAllReportsEachFileParsedOrWhyNot() throws {
        try withTemporaryDirectory { dir in
            let archive = DigestArchive(directory: dir)
            let first = try archive.write(try Self.digest(1))
            let second = try archive.write(try Self.digest(2))
            // An altered file, a renamed one, and files that are not digests at all.
            let altered = try Self.digest(3)
            let alteredPath = try archive.write(altered)
            let text = try String(contentsOfFile: alteredPath, encoding: .utf8).replacingOccurrences(of: "\"rows\":12", with: "\"rows\":13")
            try write(text, to: alteredPath)
            let moved = dir + "/elsewhere.json"
            try FileManager.default.copyItem(atPath: second, toPath: moved)
            try write("{}", to: dir + "/empty.json")
            try write("ignored", to: dir + "/notes.txt")
            let all = try archive.readAll()
            #expect(all.map(\.path).sorted() == [first, second, alteredPath, moved, dir + "/empty.json"].sorted())
            let byPath = Dictionary(uniqueKeysWithValues: all.map { ($0.path, $0) })
            #expect(byPath[first]?.digest?.document.sequence == 1)
            #expect(byPath[first]?.isWhereItBelongs == true)
            #expect(byPath[moved]?.digest != nil)
            #expect(byPath[moved]?.isWhereItBelongs == false)
            // Still parseable (rows is a number either way) but no longer signed by the key.
            #expect(byPath[alteredPath]?.digest?.isValid(publicKey: SignedDigestTests.key.publicKey) == false)
            guard case .malformedDigest(let path, let reason)? = byPath[dir + "/empty.json"]?.error else {
                Issue.record("empty.json: \(String(describing: byPath[dir + "/empty.json"]?.result))")
                return
            }
            #expect(path == dir + "/empty.json")
            #expect(reason.contains("missing"))
        }
    }

    @Test func aMissingDirectoryCannotBeRead() {
        #expect(throws: IntegrityError.digestDirectory(path: "/nonexistent/digests", reason: "does not exist")) {
            try DigestArchive(directory: "/nonexistent/digests").readAll()
        }
    }

    @Test func aFileWhereADirectoryShouldBeIsReported() throws {
        try withTemporaryDirectory { dir in
            try write("x", to: dir + "/digests")
            #expect {
                try DigestArchive(directory: dir + "/digests").write(try Self.digest(1))
            } throws: { error in
                guard case IntegrityError.digestDirectory(let path, _) = error else { return false }
                return path == dir + "/digests"
            }
        }
    }
}
