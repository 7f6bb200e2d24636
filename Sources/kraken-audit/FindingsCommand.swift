import Analyser
import ArgumentParser
import AuditConfig
import Foundation
import Operations

struct FindingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "findings",
        abstract: "List findings, show one with its evidence, and acknowledge, resolve or suppress them.",
        subcommands: [List.self, Show.self, Ack.self, Resolve.self, Suppress.self, Reopen.self],
        defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List findings, most severe and most recent first.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this account.") var account: String?
        @Option(help: "Statuses, comma-separated (open, acknowledged, resolved, suppressed) or 'all'.") var status = "open,acknowledged"
        @Option(help: "Lowest severity shown: info, low, medium, high, critical.") var minSeverity = "info"
        @Option(name: .customLong("rule"), help: "Only this rule (repeatable).") var rules: [String] = []
        @Option(help: "At most this many.") var limit = 100
        @Flag(help: "JSON output (one array, evidence included).") var json = false

        func validate() throws {
            guard Severity(rawValue: minSeverity) != nil else {
                throw ValidationError("--min-severity must be one of info, low, medium, high, critical")
            }
            guard statuses != nil else { throw ValidationError("--status must list open, acknowledged, resolved, suppressed or be 'all'") }
            guard limit > 0 else { throw ValidationError("--limit must be positive") }
        }

        var statuses: [FindingStatus]? {
            if status == "all" { return FindingStatus.allCases }
            let parts = status.split(separator: ",").map { FindingStatus(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
            return parts.contains(where: { $0 == nil }) || parts.isEmpty ? nil : parts.compactMap { $0 }
        }

        func run() async throws {
            let filter = FindingFilter(
                account: account, statuses: statuses ?? [.open], minSeverity: Severity(rawValue: minSeverity) ?? .info,
                ruleIds: rules, limit: limit)
            try await global.run(FindingsOperation(.list(filter, json: json)))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one finding with its evidence and status history.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Finding id.") var id: Int64

        func run() async throws {
            try await global.run(FindingsOperation(.show(id: id)))
        }
    }

    struct StatusOptions: ParsableArguments {
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Finding id.") var id: Int64
        @Option(help: "Why (required; shown to the next analyst).") var note: String
        @Option(help: "Who (default: $USER).") var by: String?

        func change(to status: FindingStatus) async throws {
            try await global.run(FindingsOperation(.setStatus(id: id, to: status, note: note, by: by)))
        }
    }

    struct Ack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ack", abstract: "Acknowledge a finding (someone is on it).")
        @OptionGroup var options: StatusOptions
        func run() async throws { try await options.change(to: .acknowledged) }
    }

    struct Resolve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resolve a finding (dealt with; it reopens only on newer evidence).")
        @OptionGroup var options: StatusOptions
        func run() async throws { try await options.change(to: .resolved) }
    }

    struct Suppress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Suppress a finding (expected; never alerts again, even when detected again).")
        @OptionGroup var options: StatusOptions
        func run() async throws { try await options.change(to: .suppressed) }
    }

    struct Reopen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a finding back to open.")
        @OptionGroup var options: StatusOptions
        func run() async throws { try await options.change(to: .open) }
    }
}
