import AuditKernel
import Foundation
import KrakenAPI
import ZIPFoundation

extension SimulatorState {
    /// Four capitals, unique among this simulator's reports (Kraken's ids look like `TCJA`).
    func nextExportID() -> String {
        while true {
            let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            let id = String((0..<4).map { _ in letters[Int(exportRNG.next() % 26)] })
            if !exports.contains(where: { $0.id == id }) { return id }
        }
    }

    func addExport(_ params: Params, account a: SimAccount) throws(EndpointError) -> JSONValue {
        guard let report = params["report"], ExportFiles.reports.contains(report) else { throw .invalid("report") }
        guard let descr = params["description"], !descr.isEmpty else { throw .invalid("description") }
        let format = (params["format"] ?? "CSV").uppercased()
        guard format == "CSV" || format == "TSV" else { throw .invalid("format") }
        var fields: [String]? = nil
        if let f = params.list("fields"), !(f.count == 1 && f[0] == "all") {
            let known = report == "ledgers" ? ExportFiles.ledgerFields : ExportFiles.tradeFields
            guard f.allSatisfy(known.contains) else { throw .invalid("fields") }
            fields = f
        }
        let now = nowTicks()
        let nowSeconds = now / 10_000
        // Missing starttm: the 1st of the current month, 00:00 UTC (§1) — the pitfall the collector avoids.
        let (y, m, _) = CivilDate.civil(days: nowSeconds / 86_400)
        var start = CivilDate.days(year: y, month: m, day: 1) * 86_400
        var end = nowSeconds
        if let s = params["starttm"], !s.isEmpty { guard let v = Int64(s), v >= 0 else { throw .invalid("starttm") }; start = v }
        if let e = params["endtm"], !e.isEmpty { guard let v = Int64(e), v >= 0 else { throw .invalid("endtm") }; end = min(v, nowSeconds) }
        guard start <= end else { throw .invalid("starttm") }
        let id = nextExportID()
        let export = SimExport(
            id: id, account: a.name, report: report, descr: descr, format: format, fields: fields, dataStart: start,
            dataEnd: end, createdTicks: now, error: options.exportError)
        exports.append(export)
        // Rows up to `end` are in the past and never change, so a snapshot of the history (copy-on-write) is the file.
        let (history, options, logger) = (a.builder.history, self.options, self.logger)
        DispatchQueue.global(qos: .utility).async {
            do {
                export.build.finish(.success(try ExportFiles.zip(export, history: history, options: options)))
            } catch {
                logger.error("could not build the export file", metadata: ["id": "\(id)", "error": "\(error)"])
                export.build.finish(.failure(EndpointError("EExport:Internal error")))
            }
        }
        return .object([("id", .string(id))])
    }

    /// Reports of the account that still exist (not deleted, not expired), newest first.
    func liveExports(_ a: SimAccount) -> [Int] {
        let now = nowTicks()
        return exports.indices.filter { i in
            exports[i].account == a.name && now < exports[i].createdTicks + options.exportExpirySeconds * 10_000
        }.reversed()
    }

    func exportStatus(_ params: Params, account a: SimAccount) throws(EndpointError) -> JSONValue {
        guard let report = params["report"], ExportFiles.reports.contains(report) else { throw .invalid("report") }
        let now = nowTicks()
        return .array(
            liveExports(a).filter { exports[$0].report == report }.map { i in
                let x = exports[i]
                let (status, completed) = x.status(nowTicks: now, options: options)
                let created = String(x.createdTicks / 10_000)
                var m: [(String, JSONValue)] = [
                    ("id", .string(x.id)), ("descr", .string(x.descr)), ("format", .string(x.format)),
                    ("report", .string(x.report)), ("subtype", .string("all")), ("status", .string(status)),
                    ("flags", .string("0")), ("fields", .string(x.fields?.joined(separator: ",") ?? "all")),
                    ("createdtm", .string(created)), ("expiretm", .string(String(x.createdTicks / 10_000 + options.exportExpirySeconds))),
                    ("starttm", .string(String(x.dataStart))), ("completedtm", .string(completed.map { String($0 / 10_000) } ?? "0")),
                    ("datastarttm", .string(String(x.dataStart))), ("dataendtm", .string(String(x.dataEnd))),
                    ("aclass", .string(x.report == "ledgers" ? "currency" : "forex")), ("asset", .string("all")),
                ]
                if status == "Processed", let error = x.error { m.append(("error", .string(error))) }
                return .object(m)
            })
    }

    /// The zip bytes of a processed report (built on first retrieval).
    func retrieveExport(_ params: Params, account a: SimAccount) throws(EndpointError) -> [UInt8] {
        guard let id = params["id"], let i = liveExports(a).first(where: { exports[$0].id == id }) else { throw .invalid("id") }
        let (status, _) = exports[i].status(nowTicks: nowTicks(), options: options)
        guard status == "Processed" else { throw EndpointError("EExport:Not ready") }
        if let error = exports[i].error { throw EndpointError(error) }
        switch exports[i].build.value {
        case .success(let zip): return zip
        case .failure(let e): throw e
        case nil: throw EndpointError("EExport:Not ready")
        }
    }

    func removeExport(_ params: Params, account a: SimAccount) throws(EndpointError) -> JSONValue {
        guard let id = params["id"], let i = liveExports(a).first(where: { exports[$0].id == id }) else { throw .invalid("id") }
        guard let type = params["type"], type == "cancel" || type == "delete" else { throw .invalid("type") }
        let (status, _) = exports[i].status(nowTicks: nowTicks(), options: options)
        // `cancel` only before processing finished, `delete` only after (§4).
        guard (type == "cancel") == (status != "Processed") else { throw .invalid("type") }
        exports.remove(at: i)
        return .object([(type, .bool(true))])
    }

    /// Reports requested so far (all accounts), for tests: (id, account, report, data window).
    public func exportRequests() -> [(id: String, account: String, report: String, start: Int64, end: Int64)] {
        exports.map { ($0.id, $0.account, $0.report, $0.dataStart, $0.dataEnd) }
    }
}
