import AuditKernel
import AuditStore
import Foundation
import KrakenAPI
import KrakenSimulator
import TestSupport
import Testing
import ZIPFoundation

@testable import Collector

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 14 items 2 (export part), 9 and 10: export ids are checked before they reach a file name, the `.part`
/// file is created exclusively without following symlinks, files and directories are private whatever the
/// umask, downloads are streamed to disk under a limit, the import reads the file that was verified, and a zip
/// bomb is refused before it is unpacked.
@Suite struct ExportHardeningTests {
    static func mode(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & 0o777 : 0
    }

    /// Runs `body` with the process umask at 022 (what cron and a login shell give), then restores it.
    static func withUmask022<T>(_ body: () async throws -> T) async rethrows -> T {
        let old = umask(0o022)
        defer { umask(old) }
        return try await body()
    }

    @Test func hostileExportIdsAreRefused() {
        for bad in ["../../x", "..", "a/b", "", String(repeating: "A", count: 65), "TCJÄ", "TC JA", "TCJA\u{0}", "TCJA\n", "ＴＣＪＡ"] {
            #expect(!ExportFile.isValidKrakenId(bad), "\(bad.debugDescription) must be refused")
        }
        for good in ["TCJA", "a-1-B", String(repeating: "z", count: 64), "0"] {
            #expect(ExportFile.isValidKrakenId(good))
        }
        let shown = ExportError.badKrakenId(shown: ExportError.shown("../\u{1b}[31mx\u{0}Ä")).description
        #expect(shown.contains(#""../\u{1b}[31mx\u{0}\u{c4}" (11 characters)"#), "\(shown)")
        #expect(!shown.contains("\u{1b}") && !shown.contains("\u{0}"))
    }

    /// Rewrites AddExport's report id in Kraken's answers (the signature covers requests, not answers).
    struct HostileIdTransport: HTTPTransport {
        let inner = URLSessionTransport()
        let id: String
        func send(_ request: TransportRequest) async throws -> TransportResponse {
            var response = try await inner.send(request)
            if request.url.path.hasSuffix("/AddExport"), let text = String(validating: response.body, as: UTF8.self) {
                let rewritten = text.replacingOccurrences(
                    of: #""id":"[A-Z]+""#, with: "\"id\":\(JSONValue.string(id).jsonText)", options: .regularExpression)
                response.body = Array(rewritten.utf8)
            }
            return response
        }
    }

    /// An id like `../../x` from AddExport is refused with a clear error and never stored; the next run adopts
    /// the report by its description under Kraken's real id and completes.
    @Test func hostileIdFromKrakenIsNeverStoredOrUsed() async throws {
        try await ExportHarness.with { h in
            let first = await h.collect(h.options(), transport: HostileIdTransport(id: "../../x"))
            #expect(!first.succeeded)
            let message = first.error.map { "\($0)" } ?? ""
            #expect(
                message.contains("AddExport") && message.contains(#""../../x""#) && message.contains("not 1-64 letters, digits or '-'"),
                "\(message)")
            #expect(try h.count("SELECT count(*) FROM audit.exports WHERE kraken_id IS NOT NULL") == 0, "the id was stored")
            #expect(!FileManager.default.fileExists(atPath: h.exportDir.path), "nothing was written")

            let second = await h.collect(h.options(wait: true))
            #expect(second.succeeded, "\(second.error.map { "\($0)" } ?? "")")
            #expect(try h.exportStatuses() == ["ledgers=imported", "trades=imported"])
            try await h.expectStoredEqualsTruth()
        }
    }

    /// An id planted in the database (by an older version, by hand) is refused at download too.
    @Test func hostileStoredIdIsNotUsedAsAFileName() async throws {
        try await ExportHarness.with(configure: { o in o.exportQueuedSeconds = 30 }) { h in
            _ = await h.collect(h.options())
            try h.db.execute("UPDATE audit.exports SET kraken_id = '../../../x', status = 'processed' WHERE report = 'ledgers'")
            var options = h.options()
            options.export.maxAttempts = 1
            _ = await h.collect(options)
            let row = try h.db.query("SELECT status, error FROM audit.exports WHERE report = 'ledgers' ORDER BY id LIMIT 1").rows[0]
            #expect(try row.decode(0, as: String.self) == "failed")
            #expect(try row.decode(1, as: String.self).contains(#"Kraken named an export "../../../x""#))
            let listed = (try? FileManager.default.contentsOfDirectory(atPath: h.exportDir.path)) ?? []
            #expect(!listed.contains { $0.contains("ledgers") }, "\(listed)")
        }
    }

    /// Under umask 022: the export directory kraken-audit creates is 0700, the files 0600. A symlink planted at
    /// the `.part` name is not followed (its target stays untouched), and each report is imported once.
    @Test func privateFilesAndNoSymlinkFollowedUnderUmask022() async throws {
        try await Self.withUmask022 {
            try await ExportHarness.with(configure: { o in o.exportQueuedSeconds = 30 }) { h in
                var options = h.options(wait: true)
                let dir = h.exportDir.appendingPathComponent("state/exports")
                options.export.directory = dir
                _ = await h.collect(h.options())  // requests both reports (Kraken keeps them queued for 30 s)
                // Plant a symlink at each future .part name, pointing at a file outside the directory.
                try FileManager.default.createDirectory(at: h.exportDir, withIntermediateDirectories: true)
                let victim = h.exportDir.appendingPathComponent("victim.txt").path
                try "precious".write(toFile: victim, atomically: true, encoding: .utf8)
                try ExportFile.ensurePrivateDirectory(dir)
                for r in try h.db.query("SELECT id, report, kraken_id FROM audit.exports").rows {
                    let name =
                        "acct1-\(try r.decode(1, as: String.self))-\(try r.decode(2, as: String.self))-\(try r.decode(0, as: Int64.self)).zip.part"
                    #expect(symlink(victim, dir.appendingPathComponent(name).path) == 0)
                }
                await h.advanceClock(60)
                let outcome = await h.collect(options)
                #expect(outcome.succeeded, "\(outcome.error.map { "\($0)" } ?? "")")
                #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious", "the symlink's target was written")
                #expect(try h.exportStatuses() == ["ledgers=imported", "trades=imported"])
                #expect(try h.count("SELECT count(*) FROM audit.exports WHERE status = 'imported'") == 2)
                try await h.expectStoredEqualsTruth()

                #expect(Self.mode(dir.path) == 0o700, "directory mode \(String(Self.mode(dir.path), radix: 8))")
                let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
                #expect(files.filter { $0.hasSuffix(".zip") }.count == 2, "\(files)")
                #expect(!files.contains { $0.hasSuffix(".part") }, "\(files)")
                for f in files {
                    #expect(
                        Self.mode(dir.appendingPathComponent(f).path) == 0o600,
                        "\(f): \(String(Self.mode(dir.appendingPathComponent(f).path), radix: 8))")
                }
            }
        }
    }

    /// The import reads the file that was hashed: a file swapped in at the path after the check (here: garbage)
    /// is not what gets imported. Also: a fresh export directory is created 0700 under umask 022.
    @Test func importReadsTheVerifiedFileNotThePath() async throws {
        try await Self.withUmask022 {
            try await ExportHarness.with { h in
                let swapped = Counter()
                let outcome = await ExportBackfill.$afterVerify.withValue({ path in
                    let tmp = path + ".swap"
                    _ = FileManager.default.createFile(atPath: tmp, contents: Data("not the verified file".utf8))
                    if rename(tmp, path) == 0 { swapped.increment() }
                }) {
                    await h.collect(h.options(wait: true))
                }
                #expect(swapped.value == 2)
                #expect(outcome.succeeded, "\(outcome.error.map { "\($0)" } ?? "")")
                #expect(try h.exportStatuses() == ["ledgers=imported", "trades=imported"])
                try await h.expectStoredEqualsTruth()
                #expect(Self.mode(h.exportDir.path) == 0o700)
            }
        }
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var v = 0
        var value: Int { lock.withLock { v } }
        func increment() { lock.withLock { v += 1 } }
    }

    /// A download over its limit is stopped while it arrives and leaves no file behind.
    @Test func oversizedDownloadIsRefused() async throws {
        try await ExportHarness.with { h in
            var options = h.options(wait: true)
            options.export.maxDownloadBytes = 1024
            options.export.waitTimeoutSeconds = 3
            _ = await h.collect(options)
            let error =
                try h.db.query("SELECT error FROM audit.exports WHERE report = 'ledgers'").rows[0].decodeOptional(0, as: String.self) ?? ""
            #expect(error.contains("larger than 1024 bytes"), "\(error)")
            #expect(try h.count("SELECT count(*) FROM audit.ledger_entries WHERE source = 'export'") == 0)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: h.exportDir.path)) ?? []
            #expect(files.isEmpty, "\(files)")
        }
    }

    /// A highly compressible entry (a zip bomb's shape) is refused from its declared sizes, before unpacking.
    @Test func zipBombIsRefusedBeforeUnpacking() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ka-bomb-\(UUID().uuidString).zip")
        defer { try? FileManager.default.removeItem(at: path) }
        let archive = try Archive(url: path, accessMode: .create)
        let size = 64 << 20
        try archive.addEntry(with: "ledgers.csv", type: .file, uncompressedSize: Int64(size), compressionMethod: .deflate) { _, chunk in
            Data(repeating: 0x30, count: chunk)
        }
        let opened = try #require(try OpenedExport.openForImport(path.path))
        let limits = ExportLimits(maxUncompressedBytes: 32 << 30, maxCompressionRatio: 100)
        #expect {
            _ = try ExportImporter.csvEntry(opened, limits: limits)
        } throws: { error in
            guard case ExportError.entryTooLarge(_, "ledgers.csv", let problem) = error else { return false }
            return problem.contains("compressed") && problem.contains("over the limit of 100 : 1")
        }
        let small = ExportLimits(maxUncompressedBytes: 1 << 20, maxCompressionRatio: 10_000)
        #expect {
            _ = try ExportImporter.csvEntry(opened, limits: small)
        } throws: { error in
            guard case ExportError.entryTooLarge(_, _, let problem) = error else { return false }
            return problem.contains("would unpack to \(size) bytes")
        }
        // A symlink is not opened at all.
        let link = path.path + ".link"
        #expect(symlink(path.path, link) == 0)
        defer { unlink(link) }
        #expect(throws: ExportError.self) { _ = try OpenedExport.openForImport(link) }
    }
}
