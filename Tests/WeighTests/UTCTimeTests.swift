import Foundation
import Testing
@testable import Weigh

@Suite struct UTCTimeTests {
    @Test func matchesFoundationsFormatters() {
        let iso = ISO8601DateFormatter()
        let compact = DateFormatter()
        compact.dateFormat = "yyyyMMdd-HHmmss"
        compact.timeZone = TimeZone(identifier: "UTC")
        compact.locale = Locale(identifier: "en_US_POSIX")
        // Epoch, a leap day, the end of a year, a fractional second, and now.
        for t in [0, 951_782_400, 1_798_761_599.75, 1_800_000_000.5, Date().timeIntervalSince1970] {
            let date = Date(timeIntervalSince1970: t)
            #expect(UTCTime.iso8601(date) == iso.string(from: date))
            #expect(UTCTime.compact(date) == compact.string(from: date))
        }
    }
}
