import Alerts
import ArgumentParser
import Foundation
import Operations

struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Deliver pending alerts through the [alerts] hook (the nightly run calls this).",
        discussion: """
            Findings at or above [alerts] min_severity are queued when the analyser creates them. Each delivery
            groups one analysis run's findings of one account into one hook call with a JSON document on stdin.
            Exit 0 from the hook = delivered; anything else (or a timeout) = retried later with backoff.

            Examples:
              kraken-audit alerts
              kraken-audit alerts --test      # send a sample alert to check the hook
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Send a sample alert to the hook and report the result; stores nothing.")
    var test = false

    func run() throws {
        let env = try global.environment(label: "alerts")
        do {
            let delivery = try env.alertDelivery()
            if test {
                let result = try delivery.sendTest()
                print("test alert: \(result.summary)")
                if !result.outputTail.isEmpty { print(result.outputTail) }
                if !result.succeeded { throw ExitCode(ExitStatus.unavailable.rawValue) }
                return
            }
            try env.requireCurrentSchema()
            let db = try env.connect()
            defer { db.close() }
            let s = try delivery.deliverPending(on: db)
            if s.skippedLocked {
                print("another alert delivery is running; nothing done")
                return
            }
            print("alerts: \(s.calls) hook call(s), \(s.delivered) delivered, \(s.failed) failed, \(s.pending) pending")
            if s.failed > 0 { throw ExitCode(ExitStatus.tempFail.rawValue) }
        } catch let code as ExitCode {
            throw code
        } catch {
            throw fail(error)
        }
    }
}
