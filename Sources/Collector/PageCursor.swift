import Foundation

/// The paging state of one account and endpoint: the JSON document in `audit.collect_cursors.state`, written in
/// the same transaction as the page it produced (see ``AccountCollector``) and seeded by the export backfill
/// (see ``ExportBackfill``). Read and written only through ``CollectStore/cursor(_:accountId:account:endpoint:)``
/// and ``CollectStore/saveCursor(_:accountId:endpoint:cursor:)``.
///
/// The stored form is a schema contract (the analyst views and operators read it): `{"done_until": N | null}`
/// when no window is open, plus `"window": {"start": S, "end": E, "ofs": O, "pass": P}` while one is being paged.
struct PageCursor: Codable, Sendable, Equatable {
    /// One fixed paging window `(start, end]` (Unix seconds), the offset of the next page and the pass (a window
    /// whose stored rows fall short of Kraken's count is read a second time).
    struct Window: Codable, Sendable, Equatable {
        var start: Int64
        var end: Int64
        var ofs: Int
        var pass: Int

        init(start: Int64, end: Int64, ofs: Int, pass: Int) {
            self.start = start
            self.end = end
            self.ofs = ofs
            self.pass = pass
        }

        enum CodingKeys: String, CodingKey { case start, end, ofs, pass }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            start = try c.decode(Int64.self, forKey: .start)
            end = try c.decode(Int64.self, forKey: .end)
            ofs = try c.decode(Int.self, forKey: .ofs)
            pass = try c.decodeIfPresent(Int.self, forKey: .pass) ?? 1  // written without `pass` before re-reads existed
        }
    }

    /// Everything up to this Unix time is stored; nil before the first window completed.
    var doneUntil: Int64?
    /// The window being paged when the run stopped (a kill); nil when none is open.
    var window: Window?

    init(doneUntil: Int64?, window: Window? = nil) {
        self.doneUntil = doneUntil
        self.window = window
    }

    enum CodingKeys: String, CodingKey {
        case doneUntil = "done_until"
        case window
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        doneUntil = try c.decodeIfPresent(Int64.self, forKey: .doneUntil)
        window = try c.decodeIfPresent(Window.self, forKey: .window)
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(doneUntil, forKey: .doneUntil)  // `null` when unset, as always stored
        try c.encodeIfPresent(window, forKey: .window)
    }

    /// Parses the stored text; throws a reason fit for ``CollectError/unreadableCursor(account:endpoint:reason:)``.
    static func parse(_ text: String) throws(UnreadableCursor) -> PageCursor {
        do {
            return try JSONDecoder().decode(PageCursor.self, from: Data(text.utf8))
        } catch let error as DecodingError {
            throw UnreadableCursor(reason: Self.describe(error))
        } catch {
            throw UnreadableCursor(reason: "\(error)")
        }
    }

    /// The JSON text stored in `state` (bound as text, cast to jsonb by the one statement that writes it).
    func jsonText() throws -> String {
        String(decoding: try JSONEncoder().encode(self), as: UTF8.self)
    }

    /// Why stored state is not a cursor.
    struct UnreadableCursor: Error {
        let reason: String
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.isEmpty ? "the document" : "'" + keys.map(\.stringValue).joined(separator: ".") + "'"
        }
        switch error {
        case .typeMismatch(_, let c): return "\(path(c.codingPath)) has the wrong type (\(c.debugDescription))"
        case .valueNotFound(_, let c): return "\(path(c.codingPath)) is missing a value"
        case .keyNotFound(let key, let c): return "\(path(c.codingPath + [key])) is missing"
        case .dataCorrupted(let c): return "\(path(c.codingPath)) is not valid (\(c.debugDescription))"
        @unknown default: return "\(error)"
        }
    }
}
