/// What a rule reads, which decides when it may run (`-- input:` header line).
public enum RuleInput: String, Sendable, CaseIterable {
    /// Kraken's rows as the collector stores them (ledger, trades, orders, funding): consistent only once a collection
    /// of the account completed, so the rule waits while the account's latest collection run failed or is running.
    case collected
    /// kraken-audit's own records (call log, collection runs, keys), complete even for a failed run: always runs.
    case callLog = "call_log"
}
