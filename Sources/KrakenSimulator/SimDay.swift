/// One local calendar day of the history.
struct SimDay: Sendable {
    /// Ticks of local midnight, business open and close.
    let midnight: Int64
    let open: Int64
    let close: Int64
    let business: Bool
    /// UTC offset (seconds) at business open, and the other offset of the zone if it observes DST.
    let offset: Int64
}
