import Foundation
import Integrity
import Testing

/// Key files: the private one as private as a secret file, never overwritten.
@Suite struct KeyFileTests {
    @Test func writeCreatesA0600FileAndLoadReadsIt() throws {
        try withTemporaryDirectory { dir in
            let old = umask(0o022)
            defer { umask(old) }
            let key = try Ed25519PrivateKey.generate()
            try key.write(to: dir + "/k.pem")
            #expect(mode(dir + "/k.pem") == 0o600)
            #expect(try Ed25519PrivateKey.load(path: dir + "/k.pem").rawRepresentation == key.rawRepresentation)
            try key.publicKey.write(to: dir + "/k.pem.pub")
            #expect(mode(dir + "/k.pem.pub") == 0o644)
            #expect(try Ed25519PublicKey.load(path: dir + "/k.pem.pub") == key.publicKey)
        }
    }

    @Test func anExistingFileIsNeverOverwritten() throws {
        try withTemporaryDirectory { dir in
            try write("keep me\n", to: dir + "/k.pem", mode: 0o600)
            let key = try Ed25519PrivateKey.generate()
            #expect(throws: IntegrityError.keyFileExists(path: dir + "/k.pem")) { try key.write(to: dir + "/k.pem") }
            #expect(throws: IntegrityError.keyFileExists(path: dir + "/k.pem")) { try key.publicKey.write(to: dir + "/k.pem") }
            #expect(try String(contentsOfFile: dir + "/k.pem", encoding: .utf8) == "keep me\n")
            // Nor a symbolic link's target.
            symlink(dir + "/target", dir + "/link.pem")
            #expect(throws: IntegrityError.self) { try key.write(to: dir + "/link.pem") }
            #expect(!FileManager.default.fileExists(atPath: dir + "/target"))
        }
    }

    @Test(arguments: [0o640, 0o604, 0o644, 0o660, 0o700 | 0o004])
    func aKeyFileOthersCanReadIsRefusedNamingTheFix(permissions: Int) throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/k.pem"
            try Ed25519PrivateKey.generate().write(to: path)
            chmod(path, mode_t(permissions))
            #expect {
                try Ed25519PrivateKey.load(path: path)
            } throws: { error in
                guard case IntegrityError.keyFileNotPrivate(path, _) = error else { return false }
                return "\(error)".contains("chmod 600 \(path)")
            }
        }
    }

    @Test func aMissingKeyFileSaysHowToCreateOne() {
        #expect {
            try Ed25519PrivateKey.load(path: "/nonexistent/k.pem")
        } throws: { error in
            (error as? IntegrityError) == .keyFileMissing(path: "/nonexistent/k.pem") && "\(error)".contains("kraken-audit keygen")
        }
        #expect(throws: IntegrityError.keyFileMissing(path: "/nonexistent/k.pub")) { try Ed25519PublicKey.load(path: "/nonexistent/k.pub") }
    }

    @Test func aKeyFileOwnedByAnotherUserIsRefused() throws {
        // Only root can give a file away; as another user the check is covered by SecretReader's tests.
        guard geteuid() == 0 else { return }
        try withTemporaryDirectory { dir in
            let path = dir + "/k.pem"
            try Ed25519PrivateKey.generate().write(to: path)
            chown(path, 65534, 65534)
            // root may use root's files only (as for secrets): a file of uid 65534 is refused.
            #expect(throws: IntegrityError.keyFileOwner(path: path, owner: 65534, expected: 0)) { try Ed25519PrivateKey.load(path: path) }
        }
    }

    @Test func aDirectoryOrGarbageIsNotAKey() throws {
        try withTemporaryDirectory { dir in
            mkdir(dir + "/d", 0o700)
            #expect(throws: IntegrityError.self) { try Ed25519PrivateKey.load(path: dir + "/d") }
            try write("not a key\n", to: dir + "/g.pem", mode: 0o600)
            #expect {
                try Ed25519PrivateKey.load(path: dir + "/g.pem")
            } throws: { error in
                guard case IntegrityError.invalidKey(let source, _) = error else { return false }
                return source.contains(dir + "/g.pem")
            }
        }
    }
}
