import AuditStore
import Foundation

/// The dates users type on the command line.
public enum DateArgument {
    /// `YYYY-MM-DD` as midnight in `timezone` (UTC unless given); nil when `text` is not such a date.
    public static func day(_ text: String, timezone: TimeZone = TimeZone(identifier: "UTC")!) -> Date? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = timezone
        f.dateFormat = "yyyy-MM-dd"
        guard text.count == 10 else { return nil }
        return f.date(from: text)
    }

    /// `2026-03-30` (UTC midnight) or an ISO 8601 timestamp such as `2026-03-30T06:00:00+02:00`.
    public static func dayOrTime(_ text: String) -> Date? {
        if text.count == 10 { return PGTimestamp.parse(text + "T00:00:00Z") }
        return PGTimestamp.parse(text)
    }
}
