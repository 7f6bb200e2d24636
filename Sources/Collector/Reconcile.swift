/// Field-by-field comparison of an export row (`e`) with an API row (`a`) of the same id, after normalisation:
/// names are REST keys on both sides, numbers compare as NUMERIC (`0` = `0.0000000000`), times at whole seconds
/// (the ledgers file has no fractions), and columns an older file generation lacks are not compared.
/// Each entry is `(field, export text, API text, differs)` for a `VALUES` list. Aliases are code constants.
enum Reconcile {
    static func ledgerFields(e: String, a: String) -> String {
        func text(_ f: String) -> String { "('\(f)', \(e).\(f), \(a).\(f), \(e).\(f) IS DISTINCT FROM \(a).\(f))" }
        func number(_ f: String) -> String { "('\(f)', \(e).\(f)::text, \(a).\(f)::text, \(e).\(f) IS DISTINCT FROM \(a).\(f))" }
        return [
            text("refid"), text("type"),
            "('subtype', \(e).subtype, \(a).subtype, \(e).raw ? 'subtype' AND \(e).subtype IS DISTINCT FROM \(a).subtype)",
            text("aclass"), text("asset"), number("amount"), number("fee"), number("balance"),
            "('time', \(e).time::text, \(a).time::text, date_trunc('second', \(e).time) IS DISTINCT FROM date_trunc('second', \(a).time))",
        ].joined(separator: ", ")
    }

    static func tradeFields(e: String, a: String) -> String {
        func text(_ f: String) -> String { "('\(f)', \(e).\(f), \(a).\(f), \(e).\(f) IS DISTINCT FROM \(a).\(f))" }
        func number(_ f: String) -> String { "('\(f)', \(e).\(f)::text, \(a).\(f)::text, \(e).\(f) IS DISTINCT FROM \(a).\(f))" }
        return [
            text("ordertxid"), text("pair"), text("type"), text("ordertype"), number("price"), number("cost"), number("fee"),
            number("vol"),
            "('margin', \(e).margin::text, \(a).margin::text, \(e).raw ? 'margin' AND coalesce(\(e).margin, 0) <> coalesce(\(a).margin, 0))",
            "('misc', \(e).misc, \(a).misc, \(e).raw ? 'misc' AND coalesce(\(e).misc, '') <> coalesce(\(a).misc, ''))",
            "('postxid', \(e).postxid, \(a).postxid, \(e).postxid IS NOT NULL AND \(a).postxid IS NOT NULL AND \(e).postxid <> \(a).postxid)",
            "('ledgers', array_to_string(\(e).ledgers, ','), array_to_string(\(a).ledgers, ','), \(e).ledgers IS NOT NULL AND \(a).ledgers IS NOT NULL AND (SELECT array_agg(x ORDER BY x) FROM unnest(\(e).ledgers) x) IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM unnest(\(a).ledgers) x))",
            "('time', \(e).time::text, \(a).time::text, date_trunc('second', \(e).time) IS DISTINCT FROM date_trunc('second', \(a).time))",
        ].joined(separator: ", ")
    }

    /// Records disagreements between the API rows in `stage` and the stored rows of the same ids that came from
    /// `source` (`export`: an import; `ws`: the WebSocket stream of `watch`, issue 20), before the API's rows are
    /// upserted; `exportId` is the SQL of the `export_id` recorded (the export's id, or `'stream'`).
    static func fromAPI(entity: String, stage: String, table: String, key: String, fields: String, source: String, exportId: String)
        -> String
    {
        """
        INSERT INTO audit.source_mismatches AS m (account_id, entity, entity_id, field, export_value, api_value, export_id)
        SELECT $1, '\(entity)', e.\(key), f.field, f.ev, f.av, \(exportId)
          FROM \(stage) a JOIN audit.\(table) e ON e.account_id = $1 AND e.\(key) = a.\(key) AND e.source = '\(source)'
         CROSS JOIN LATERAL (VALUES \(fields)) f(field, ev, av, differs)
         WHERE f.differs
        ON CONFLICT DO NOTHING  -- append-only (migration 0007)
        """
    }

    /// API rows in `stage_ledger` against stored export rows (paging after an import).
    static let ledgerFromAPI = fromAPI(
        entity: "ledger", stage: "stage_ledger", table: "ledger_entries", key: "ledger_id", fields: ledgerFields(e: "e", a: "a"),
        source: "export", exportId: "e.export_id")

    /// Same for API trades in `stage_trades`.
    static let tradesFromAPI = fromAPI(
        entity: "trade", stage: "stage_trades", table: "trades", key: "txid", fields: tradeFields(e: "e", a: "a"), source: "export",
        exportId: "e.export_id")

    /// API rows in `stage_ledger` against rows the stream stored first; REST's row then becomes their next version.
    static let ledgerFromAPIOverStream = fromAPI(
        entity: "ledger", stage: "stage_ledger", table: "ledger_entries", key: "ledger_id", fields: ledgerFields(e: "e", a: "a"),
        source: "ws", exportId: "'stream'")

    /// Same for streamed trades.
    static let tradesFromAPIOverStream = fromAPI(
        entity: "trade", stage: "stage_trades", table: "trades", key: "txid", fields: tradeFields(e: "e", a: "a"), source: "ws",
        exportId: "'stream'")
}
