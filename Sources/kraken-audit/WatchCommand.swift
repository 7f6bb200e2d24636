import ArgumentParser
import Foundation
import Operations

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Stream each account's ledger and fills from Kraken's WebSocket v2; alert within seconds.",
        discussion: """
            A long-running service (systemd: scripts/systemd/kraken-audit-watch.service). Per account: a fresh token
            from GetWebSocketsToken (paced and logged like every REST call; the key needs the "WebSocket interface"
            permission), one connection to the account's ws_url (default wss://ws-auth.kraken.com/v2), the balances
            and executions channels. Every streamed ledger entry and fill is stored at once (source 'ws'); after
            each (re)connect the gap is filled from REST. The rules about one new entity (unexpected_withdrawal,
            withdrawal_address_changed, off_hours_trading, trade_size_outlier, new_pair_or_asset) run on arrival and
            their alerts go through the hook; the nightly run confirms streamed rows and does not alert again.
            SIGTERM/SIGINT stop it cleanly (exit 0).

            Examples:
              kraken-audit watch
              kraken-audit watch --account main
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .customLong("account"), help: "Only this account (repeatable).")
    var accounts: [String] = []

    func run() async throws {
        var operation = WatchOperation()
        operation.accounts = accounts
        try await global.run(operation)
    }
}
