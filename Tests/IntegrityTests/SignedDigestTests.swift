import AuditKernel
import Foundation
import Integrity
import Testing

/// Digest documents: validation, signing, the file format and strict parsing.
@Suite struct SignedDigestTests {
    static let key = try! Ed25519PrivateKey(
        rawRepresentation: bytes(hex: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
    static let hashA = String(repeating: "a", count: 64)
    static let hashB = String(repeating: "0123456789abcdef", count: 4)

    static func document(sequence: Int64 = 2, database: String = "7321234567890123456/kraken_audit") -> DigestDocument {
        DigestDocument(
            database: database, sequence: sequence, createdAt: "2026-11-30T18:00:00.123456Z",
            previousDigestHash: sequence == 1 ? nil : hashA, integritySince: "2026-11-01T00:00:00Z",
            publicKeyFingerprint: key.publicKey.fingerprint,
            chains: [
                ChainHead(
                    accountId: 1, account: "main", table: "api_calls", rows: 12, headHash: hashB, firstAt: "2026-11-01T00:00:01.5Z",
                    lastAt: "2026-11-30T17:59:59.999999Z"),
                ChainHead(accountId: 1, account: "main", table: "ledger_entries", rows: 0, headHash: hashA),
                ChainHead(accountId: 2, account: "second \"desk\"", table: "api_calls", rows: 3, headHash: hashA),
            ])
    }

    @Test func signedBytesAreTheDocumentsCanonicalJSON() throws {
        let digest = try SignedDigest.sign(Self.document(), with: Self.key)
        let expected =
            #"{"chains":[{"account":"main","account_id":1,"first_at":"2026-11-01T00:00:01.5Z","head_hash":"\#(Self.hashB)","#
            + #""last_at":"2026-11-30T17:59:59.999999Z","rows":12,"table":"api_calls"},"#
            + #"{"account":"main","account_id":1,"first_at":null,"head_hash":"\#(Self.hashA)","last_at":null,"rows":0,"table":"ledger_entries"},"#
            + #"{"account":"second \"desk\"","account_id":2,"first_at":null,"head_hash":"\#(Self.hashA)","last_at":null,"rows":3,"table":"api_calls"}],"#
            + #""created_at":"2026-11-30T18:00:00.123456Z","database":"7321234567890123456/kraken_audit","format":"kraken-audit-digest/1","#
            + #""integrity_since":"2026-11-01T00:00:00Z","previous_digest_hash":"\#(Self.hashA)","#
            + #""public_key_fingerprint":"\#(Self.key.publicKey.fingerprint)","sequence":2}"#
        #expect(String(decoding: digest.signedBytes, as: UTF8.self) == expected)
        #expect(digest.signature.count == 64)
        #expect(digest.isValid(publicKey: Self.key.publicKey))
        #expect(digest.digestHash.count == 64)
        #expect(digest.digestHash == digestHashByOpenSSL(digest.signedBytes))
    }

    func digestHashByOpenSSL(_ bytes: [UInt8]) -> String {
        (try? withTemporaryDirectory { dir in
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/d"))
            return String(try openssl(["dgst", "-sha256", "-r", dir + "/d"]).output.prefix(64))
        }) ?? ""
    }

    @Test func anyChangeToTheDocumentOrAnotherKeyFailsVerification() throws {
        let digest = try SignedDigest.sign(Self.document(), with: Self.key)
        var altered = digest
        altered.document.chains[1].rows = 1
        #expect(!altered.isValid(publicKey: Self.key.publicKey))
        altered = digest
        altered.document.previousDigestHash = Self.hashB
        #expect(!altered.isValid(publicKey: Self.key.publicKey))
        let other = try Ed25519PrivateKey.generate()
        #expect(!digest.isValid(publicKey: other.publicKey))
        // Re-signed with another key but still naming the first key's fingerprint: refused at signing.
        #expect(throws: IntegrityError.self) { try SignedDigest.sign(Self.document(), with: other) }
    }

    @Test func theFileRoundTripsAndOpenSSLVerifiesItsSignature() throws {
        let digest = try SignedDigest.sign(Self.document(), with: Self.key)
        let file = digest.fileBytes()
        let text = String(decoding: file, as: UTF8.self)
        #expect(text.hasPrefix(#"{"digest":{"chains":["#))
        #expect(text.contains(#"},"format":"kraken-audit-digest-file/1","signature":""#))
        #expect(text.hasSuffix("\"}\n"))
        let parsed = try SignedDigest.parse(fileBytes: file)
        #expect(parsed == digest)
        #expect(parsed.isValid(publicKey: Self.key.publicKey))
        // An auditor without kraken-audit: the signed bytes and the signature verify with openssl.
        try withTemporaryDirectory { dir in
            try Data(digest.signedBytes).write(to: URL(fileURLWithPath: dir + "/signed"))
            try Data(digest.signature).write(to: URL(fileURLWithPath: dir + "/sig"))
            try write(Self.key.publicKey.pemRepresentation, to: dir + "/pub.pem")
            let r = try openssl([
                "pkeyutl", "-verify", "-pubin", "-inkey", dir + "/pub.pem", "-rawin", "-in", dir + "/signed", "-sigfile", dir + "/sig",
            ])
            #expect(r.status == 0, "\(r.output)")
        }
    }

    @Test func codableUsesTheSameSnakeCaseKeys() throws {
        let document = Self.document(sequence: 1)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = try JSONValue.parse(Array(try encoder.encode(document)))
        #expect(CanonicalJSON.encode(json) == CanonicalJSON.encode(document.jsonValue))
        #expect(try JSONDecoder().decode(DigestDocument.self, from: encoder.encode(document)) == document)
    }

    @Test func sortedGivesTheOrderValidateWants() throws {
        var document = Self.document()
        let heads = ["status_history", "statuses", "api_calls", "status"].map {
            ChainHead(accountId: 3, account: "c", table: $0, rows: 1, headHash: Self.hashA)
        }
        document.chains = heads + document.chains
        #expect(throws: IntegrityError.self) { try document.validate() }
        document.chains = DigestDocument.sorted(document.chains)
        try document.validate()
        #expect(document.chains.suffix(4).map(\.table) == ["api_calls", "status", "status_history", "statuses"])
    }

    @Test func timestampsAreUTCWithMicroseconds() throws {
        #expect(DigestDocument.timestamp(Date(timeIntervalSince1970: 1_796_061_600.123456)) == "2026-11-30T18:00:00.123456Z")
        #expect(DigestDocument.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000000Z")
        #expect(DigestDocument.timestamp(Date(timeIntervalSince1970: 1_796_061_599.9999996)) == "2026-11-30T18:00:00.000000Z")
        var document = Self.document()
        document.createdAt = DigestDocument.timestamp(Date())
        #expect(throws: Never.self) { try document.validate() }
    }

    @Test func fileNameAndPathAreCloudTrailStyle() throws {
        let digest = try SignedDigest.sign(Self.document(sequence: 42), with: Self.key)
        #expect(digest.fileName == "kraken-audit_Digest_7321234567890123456_kraken_audit_0000000042_20261130T180000Z.json")
        #expect(digest.relativePath == "7321234567890123456_kraken_audit/2026/11/30/" + digest.fileName)
        let odd = try SignedDigest.sign(Self.document(database: "1/.a/b c"), with: Self.key)
        #expect(odd.fileName == "kraken-audit_Digest_1_%2Ea%2Fb%20c_0000000002_20261130T180000Z.json")
        #expect(!odd.relativePath.contains(".."))
        #expect(odd.relativePath.split(separator: "/").count == 5)
    }

    @Test(
        arguments: [
            ("sequence 0", { @Sendable (d: inout DigestDocument) in d.sequence = 0 }),
            ("first names a previous", { @Sendable (d: inout DigestDocument) in d.sequence = 1 }),
            ("later names none", { @Sendable (d: inout DigestDocument) in d.previousDigestHash = nil }),
            ("upper-case previous", { @Sendable (d: inout DigestDocument) in d.previousDigestHash = String(repeating: "A", count: 64) }),
            ("no microseconds", { @Sendable (d: inout DigestDocument) in d.createdAt = "2026-11-30T18:00:00Z" }),
            ("offset time", { @Sendable (d: inout DigestDocument) in d.integritySince = "2026-11-01T00:00:00+01:00" }),
            ("database without name", { @Sendable (d: inout DigestDocument) in d.database = "123/" }),
            ("database without id", { @Sendable (d: inout DigestDocument) in d.database = "kraken_audit" }),
            ("short head hash", { @Sendable (d: inout DigestDocument) in d.chains[0].headHash = "abc" }),
            ("unsorted chains", { @Sendable (d: inout DigestDocument) in d.chains.swapAt(0, 1) }),
            ("repeated chain", { @Sendable (d: inout DigestDocument) in d.chains[1] = d.chains[0] }),
            ("negative rows", { @Sendable (d: inout DigestDocument) in d.chains[0].rows = -1 }),
            ("bad first_at", { @Sendable (d: inout DigestDocument) in d.chains[0].firstAt = "yesterday" }),
            ("other format", { @Sendable (d: inout DigestDocument) in d.format = "kraken-audit-digest/2" }),
        ] as [(String, @Sendable (inout DigestDocument) -> Void)])
    func invalidDocumentsAreNotSigned(what: String, change: @Sendable (inout DigestDocument) -> Void) {
        var document = Self.document()
        change(&document)
        #expect(throws: IntegrityError.self, "\(what)") { try SignedDigest.sign(document, with: Self.key) }
    }

    /// Each way a file can be wrong is refused, and the message names what is wrong.
    @Test func malformedFilesAreRefusedNamingTheProblem() throws {
        let digest = try SignedDigest.sign(Self.document(), with: Self.key)
        let text = String(decoding: digest.fileBytes(), as: UTF8.self)
        let base64 = Data(digest.signature).base64EncodedString()
        let cases: [(String, String)] = [
            ("not json", "not JSON"),
            (text.replacingOccurrences(of: "kraken-audit-digest-file/1", with: "kraken-audit-digest-file/9"), "kraken-audit-digest-file/9"),
            (
                text.replacingOccurrences(of: "\"format\":\"kraken-audit-digest/1\"", with: "\"format\":\"kraken-audit-digest/2\""),
                "digest.format"
            ),
            (text.replacingOccurrences(of: base64, with: "not base64!"), "signature is not base64"),
            (text.replacingOccurrences(of: base64, with: Data(digest.signature.prefix(63)).base64EncodedString()), "63 bytes"),
            (text.replacingOccurrences(of: "\"sequence\":2", with: "\"sequence\":\"2\""), "digest.sequence is not an integer"),
            (text.replacingOccurrences(of: "\"sequence\":2", with: "\"sequence\":2.0"), "digest.sequence is not an integer"),
            (text.replacingOccurrences(of: "\"rows\":12,", with: "\"rows\":12,\"extra\":1,"), "unknown member digest.chains[0].extra"),
            (text.replacingOccurrences(of: "\"rows\":12,", with: ""), "digest.chains[0].rows is missing"),
            (text.replacingOccurrences(of: "{\"digest\":", with: "{\"digest\":1,\"digest\":"), "digest appears twice"),
            (text.replacingOccurrences(of: ",\"signature\"", with: ", \"signature\""), "canonical form"),
            (String(text.dropLast()), "canonical form"),
            (text.replacingOccurrences(of: "\"rows\":3", with: "\"rows\":03"), "not JSON"),
        ]
        for (file, expected) in cases {
            #expect {
                try SignedDigest.parse(fileBytes: Array(file.utf8))
            } throws: { error in
                guard case IntegrityError.malformedDigest(nil, let reason) = error else { return false }
                return reason.contains(expected)
            }
        }
    }
}
