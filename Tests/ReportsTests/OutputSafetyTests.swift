import Foundation
import Testing

@testable import Reports

/// Issue 14: reports are private files whatever the umask, and text from the account (finding titles,
/// address-book names) cannot inject spreadsheet formulas or markdown/HTML.
@Suite struct OutputSafetyTests {
    static func mode(_ path: String) throws -> mode_t {
        var st = stat()
        guard stat(path, &st) == 0 else { throw CocoaError(.fileReadNoSuchFile) }
        return st.st_mode & 0o7777
    }

    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ka-private-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Runs `body` with the process umask set to `mask` (the suite runs serially: `scripts/test` passes
    /// --no-parallel, so no other test creates files meanwhile).
    static func withUmask<R>(_ mask: mode_t, _ body: () throws -> R) rethrows -> R {
        let old = umask(mask)
        defer { umask(old) }
        return try body()
    }

    @Test func filesArePrivateWhateverTheUmask() throws {
        let dir = try Self.temporaryDirectory()
        for mask: mode_t in [0o022, 0o000, 0o077] {
            let path = "\(dir)/report-\(mask).html"
            try Self.withUmask(mask) { try AtomicFile.write("<html>", to: path) }
            #expect(try Self.mode(path) == 0o600, "umask \(String(mask, radix: 8))")
        }
        // Replacing a file that an older version wrote 0644 makes it private too.
        let old = "\(dir)/old.md"
        _ = FileManager.default.createFile(atPath: old, contents: Data("x".utf8), attributes: [.posixPermissions: 0o644])
        try Self.withUmask(0o022) { try AtomicFile.write("new", to: old) }
        #expect(try Self.mode(old) == 0o600)
    }

    @Test func textfileForNodeExporterStaysWorldReadable() throws {
        let dir = try Self.temporaryDirectory()
        for mask: mode_t in [0o022, 0o077] {
            let path = "\(dir)/kraken_audit-\(mask).prom"
            try Self.withUmask(mask) { try AtomicFile.write("x 1\n", to: path, mode: AtomicFile.publicReadableMode) }
            #expect(try Self.mode(path) == 0o644, "umask \(String(mask, radix: 8))")
        }
    }

    @Test func createdDirectoriesAre0700ExistingOnesKept() throws {
        let dir = try Self.temporaryDirectory()
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir)
        let nested = "\(dir)/a/b/c"
        try Self.withUmask(0o022) { try PrivateDirectory.create(nested) }
        for p in ["\(dir)/a", "\(dir)/a/b", nested] { #expect(try Self.mode(p) == 0o700, "\(p)") }
        #expect(try Self.mode(dir) == 0o755)  // existed: the operator's choice, unchanged
        try PrivateDirectory.create(nested)  // idempotent
        let file = "\(dir)/file"
        _ = FileManager.default.createFile(atPath: file, contents: Data())
        #expect(throws: OutputError.self) { try PrivateDirectory.create("\(file)/sub") }
    }

    @Test func csvFormulaGuardCoversTabAndCarriageReturn() {
        // OWASP CSV injection: = + - @ TAB CR at the start make a formula in some spreadsheet.
        #expect(Report.csv("\t=1+1") == "'\t=1+1")
        #expect(Report.csv("\r=cmd|' /C calc'!A0") == "\"'\r=cmd|' /C calc'!A0\"")
        #expect(Report.csv("\r\n=2+3") == "\"'\r\n=2+3\"")  // "\r\n" is one Character in Swift
        #expect(Report.csv("=SUM(A1)") == "'=SUM(A1)")
        #expect(Report.csv("+1") == "'+1")
        #expect(Report.csv("@x") == "'@x")
        #expect(Report.csv("-1+2") == "'-1+2")
        #expect(Report.csv("-2e3") == "'-2e3")
        // Negative decimals stay numbers; ordinary text unchanged.
        #expect(Report.csv("-0.7248500000") == "-0.7248500000")
        #expect(Report.csv("-600") == "-600")
        #expect(Report.csv("btc-wallet-2") == "btc-wallet-2")
        #expect(Report.csv("a,b") == "\"a,b\"")
    }

    @Test func markdownEscapesEverythingThatCanInject() {
        #expect(Report.md("<img src=x onerror=alert(1)>") == "\\<img src=x onerror=alert(1)\\>")
        #expect(Report.md("[click](https://evil.example)") == "\\[click\\](https://evil.example)")
        #expect(Report.md("![x](https://evil.example/t.png)") == "!\\[x\\](https://evil.example/t.png)")
        #expect(Report.md("*bold* _it_ ~~s~~ `code`") == "\\*bold\\* \\_it\\_ \\~\\~s\\~\\~ \\`code\\`")
        #expect(Report.md("a|b\nc\r\nd\u{2028}e") == "a\\|b c  d e")
        #expect(Report.md("# heading \\ back") == "\\# heading \\\\ back")
        #expect(Report.md("<https://evil.example>") == "\\<https://evil.example\\>")
        // Readable: addresses, names and decimals are not touched.
        #expect(Report.md("bc1qa35ls3egf0872h3w") == "bc1qa35ls3egf0872h3w")
        #expect(Report.md("unexpected_withdrawal") == "unexpected_withdrawal")  // intraword _ is inert
        #expect(Report.md("_lead trail_ a_ _b") == "\\_lead trail\\_ a\\_ \\_b")
        #expect(Report.md("btc-wallet-2 (cold), 0.72485") == "btc-wallet-2 (cold), 0.72485")
    }
}
