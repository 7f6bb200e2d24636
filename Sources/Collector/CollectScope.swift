/// What one collection of an account covers.
public enum CollectScope: Sendable, Equatable {
    /// Every endpoint: key snapshot, export backfill, paged history, open and missing orders, funding, balances.
    case everything
    /// `watch`'s gap fill after a (re)connect (issue 20): the paged ledger and trade history from the stored
    /// high-water mark up to Kraken's now, so nothing booked while no stream was open is lost.
    case streamGap
    /// `watch`, after a streamed withdrawal: `WithdrawStatus` only, to learn the destination the rules judge.
    case withdrawalStatus
}
