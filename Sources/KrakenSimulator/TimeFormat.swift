import AuditKernel
import Foundation

/// Time formatting without formatters (fast, locale-free); the calendar arithmetic is AuditKernel's `CivilDate`.
enum TimeFormat {
    private static func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// `2026-03-30T18:30:00Z`, with `.1234` when the ticks (1e-4 s) have a fraction.
    static func iso(ticks: Int64) -> String {
        let seconds = ticks >= 0 ? ticks / 10_000 : (ticks - 9_999) / 10_000
        let frac = ticks - seconds * 10_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let sod = seconds - days * 86_400
        let (y, m, d) = CivilDate.civil(days: days)
        var s = "\(y)-\(two(m))-\(two(d))T\(two(sod / 3600)):\(two(sod / 60 % 60)):\(two(sod % 60))"
        if frac != 0 {
            let f = String(frac)
            s += "." + String(repeating: "0", count: 4 - f.count) + f
        }
        return s + "Z"
    }

    /// RFC 1123 as Kraken's `/0/public/Time` writes it: `Thu, 06 Jul 23 18:50:48 +0000`.
    static func rfc1123(seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let sod = seconds - days * 86_400
        let (y, m, d) = CivilDate.civil(days: days)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let wd = weekdays[Int(((days % 7) + 7) % 7)]
        return "\(wd), \(two(d)) \(months[Int(m) - 1]) \(two(y % 100)) \(two(sod / 3600)):\(two(sod / 60 % 60)):\(two(sod % 60)) +0000"
    }

    /// Local wall-clock description of an instant, e.g. `2026-03-30 20:30:00 CEST (+02:00)`.
    static func local(ticks: Int64, in zone: TimeZone) -> String {
        let date = Date(timeIntervalSince1970: Double(ticks) / 10_000)
        let offset = Int64(zone.secondsFromGMT(for: date))
        return wall(ticks: ticks, offset: offset) + " " + (zone.abbreviation(for: date) ?? "") + " (" + offsetText(offset) + ")"
    }

    /// Wall-clock text of an instant at a fixed UTC offset (seconds).
    static func wall(ticks: Int64, offset: Int64) -> String {
        let local = ticks / 10_000 + offset
        let days = local >= 0 ? local / 86_400 : (local - 86_399) / 86_400
        let sod = local - days * 86_400
        let (y, m, d) = CivilDate.civil(days: days)
        return "\(y)-\(two(m))-\(two(d)) \(two(sod / 3600)):\(two(sod / 60 % 60)):\(two(sod % 60))"
    }

    static func offsetText(_ offset: Int64) -> String {
        let sign = offset < 0 ? "-" : "+"
        let a = abs(offset)
        return "\(sign)\(two(a / 3600)):\(two(a / 60 % 60))"
    }

    /// Parses `YYYY-MM-DD` (midnight UTC) into unix seconds.
    static func parseDate(_ text: String) -> Int64? {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let y = Int64(parts[0]), let m = Int64(parts[1]), let d = Int64(parts[2]),
            (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        return CivilDate.days(year: y, month: m, day: d) * 86_400
    }
}

extension TimeFormat {
    /// `08:00` from minutes after midnight.
    static func hhmm(_ minutes: Int) -> String {
        let h = minutes / 60
        let m = minutes % 60
        return (h < 10 ? "0\(h)" : "\(h)") + ":" + (m < 10 ? "0\(m)" : "\(m)")
    }
}
