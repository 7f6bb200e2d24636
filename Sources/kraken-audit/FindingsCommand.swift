import Analyser
import ArgumentParser
import AuditConfig
import AuditStore
import Foundation
import Operations

struct FindingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "findings",
        abstract: "List findings, show one with its evidence, and acknowledge, resolve or suppress them.",
        subcommands: [List.self, Show.self, Ack.self, Resolve.self, Suppress.self, Reopen.self],
        defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List findings, most severe and most recent first.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this account.") var account: String?
        @Option(help: "Statuses, comma-separated (open, acknowledged, resolved, suppressed) or 'all'.") var status = "open,acknowledged"
        @Option(help: "Lowest severity shown: info, low, medium, high, critical.") var minSeverity = "info"
        @Option(name: .customLong("rule"), help: "Only this rule (repeatable).") var rules: [String] = []
        @Option(help: "At most this many.") var limit = 100
        @Flag(help: "JSON output (one array, evidence included).") var json = false

        func validate() throws {
            guard Severity(rawValue: minSeverity) != nil else { throw ValidationError("--min-severity must be one of info, low, medium, high, critical") }
            guard statuses != nil else { throw ValidationError("--status must list open, acknowledged, resolved, suppressed or be 'all'") }
            guard limit > 0 else { throw ValidationError("--limit must be positive") }
        }

        var statuses: [FindingStatus]? {
            if status == "all" { return FindingStatus.allCases }
            let parts = status.split(separator: ",").map { FindingStatus(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
            return parts.contains(where: { $0 == nil }) || parts.isEmpty ? nil : parts.compactMap { $0 }
        }

        func run() throws {
            let env = try global.environment(label: "findings")
            let filter = FindingFilter(
                account: account, statuses: statuses ?? [.open], minSeverity: Severity(rawValue: minSeverity) ?? .info,
                ruleIds: rules, limit: limit)
            let findings: [Finding]
            do {
                let db = try env.connect()
                defer { db.close() }
                findings = try FindingStore.list(on: db, filter: filter)
            } catch let error as AnalyserError {
                throw fail(analyser: error)
            } catch {
                throw fail(error)
            }
            if json {
                print("[" + findings.map(FindingsCommand.json).joined(separator: ",\n") + "]")
                return
            }
            if findings.isEmpty { print("no findings"); return }
            for f in findings {
                print("#\(f.id) [\(f.severity.rawValue)] \(f.status.rawValue) \(f.account ?? "-") \(f.ruleId): \(f.title)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one finding with its evidence and status history.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Finding id.") var id: Int64

        func run() throws {
            let env = try global.environment(label: "findings")
            do {
                let db = try env.connect()
                defer { db.close() }
                let f = try FindingStore.get(on: db, id: id)
                let history = try FindingStore.history(on: db, id: id)
                print("#\(f.id) [\(f.severity.rawValue)] \(f.title)")
                print("rule: \(f.ruleId)   account: \(f.account ?? "-")   entity: \(f.entityType ?? "-") \(f.entityId ?? "")")
                print("status: \(f.status.rawValue)\(f.statusNote.map { " (\($0))" } ?? "")")
                print("occurred: \(f.occurredAt.map(PGTimestamp.format) ?? "-")   first seen: \(PGTimestamp.format(f.firstSeen))   last seen: \(PGTimestamp.format(f.lastSeen))   detections: \(f.detections)   occurrences: \(f.occurrences)")
                if !f.apiCallIds.isEmpty { print("api calls: \(f.apiCallIds.map(String.init).joined(separator: ", "))") }
                print("evidence:")
                print(FindingsCommand.pretty(f.evidence))
                for h in history {
                    print("  \(PGTimestamp.format(h.at)) \(h.old ?? "-") -> \(h.new) by \(h.by)\(h.note.map { ": \($0)" } ?? "")")
                }
            } catch let error as AnalyserError {
                throw fail(analyser: error)
            } catch {
                throw fail(error)
            }
        }
    }

    struct StatusOptions: ParsableArguments {
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Finding id.") var id: Int64
        @Option(help: "Why (required; shown to the next analyst).") var note: String
        @Option(help: "Who (default: $USER).") var by: String?

        func change(to status: FindingStatus) throws {
            let env = try global.environment(label: "findings")
            let who = by ?? ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown"
            do {
                let db = try env.connect()
                defer { db.close() }
                let f = try FindingStore.setStatus(on: db, id: id, to: status, note: note, by: who)
                print("#\(f.id) is now \(f.status.rawValue): \(f.title)")
            } catch let error as AnalyserError {
                throw fail(analyser: error)
            } catch {
                throw fail(error)
            }
        }
    }

    struct Ack: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ack", abstract: "Acknowledge a finding (someone is on it).")
        @OptionGroup var options: StatusOptions
        func run() throws { try options.change(to: .acknowledged) }
    }

    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resolve a finding (dealt with; it reopens only on newer evidence).")
        @OptionGroup var options: StatusOptions
        func run() throws { try options.change(to: .resolved) }
    }

    struct Suppress: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suppress a finding (expected; never alerts again, even when detected again).")
        @OptionGroup var options: StatusOptions
        func run() throws { try options.change(to: .suppressed) }
    }

    struct Reopen: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a finding back to open.")
        @OptionGroup var options: StatusOptions
        func run() throws { try options.change(to: .open) }
    }

    static func pretty(_ json: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return json }
        return String(decoding: data, as: UTF8.self)
    }

    static func json(_ f: Finding) -> String {
        var object: [String: Any] = [
            "id": f.id, "rule": f.ruleId, "severity": f.severity.rawValue, "title": f.title, "status": f.status.rawValue,
            "dedupe_key": f.dedupeKey, "first_seen": PGTimestamp.format(f.firstSeen), "last_seen": PGTimestamp.format(f.lastSeen),
            "detections": f.detections, "occurrences": f.occurrences, "api_call_ids": f.apiCallIds,
        ]
        object["account"] = f.account
        object["entity_type"] = f.entityType
        object["entity_id"] = f.entityId
        object["occurred_at"] = f.occurredAt.map(PGTimestamp.format)
        object["status_note"] = f.statusNote
        object["evidence"] = (try? JSONSerialization.jsonObject(with: Data(f.evidence.utf8))) ?? f.evidence
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
