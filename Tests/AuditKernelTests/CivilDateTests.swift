import AuditKernel
import Foundation
import Testing

@Suite struct CivilDateTests {
    /// Known dates around the edges the algorithms special-case: the epoch, leap days, century years, negative days.
    @Test(arguments: [
        (Int64(0), Int64(1970), Int64(1), Int64(1)),
        (-1, 1969, 12, 31),
        (11_016, 2000, 2, 29),
        (-25_508, 1900, 3, 1),
        (20_513, 2026, 3, 1),
        (20_512, 2026, 2, 28),
        (47_540, 2100, 2, 28),
        (47_541, 2100, 3, 1),
        (-719_468, 0, 3, 1),
    ])
    func knownDates(days: Int64, year: Int64, month: Int64, day: Int64) {
        #expect(CivilDate.days(year: year, month: month, day: day) == days)
        let c = CivilDate.civil(days: days)
        #expect(c.year == year && c.month == month && c.day == day)
    }

    /// Every seventh day from 1641 to 2370 agrees with Foundation's Gregorian calendar in UTC (which switches to
    /// the Julian calendar before 1582, so the range starts after that), and days → civil → days is the identity.
    @Test func agreesWithFoundationOverSevenCenturies() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var mismatches = 0
        for days in stride(from: Int64(-120_000), through: 146_097, by: 7) {
            let c = CivilDate.civil(days: days)
            if CivilDate.days(year: c.year, month: c.month, day: c.day) != days { mismatches += 1 }
            let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(days) * 86_400))
            if Int64(parts.year!) != c.year || Int64(parts.month!) != c.month || Int64(parts.day!) != c.day { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }
}
