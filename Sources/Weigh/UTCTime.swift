#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// UTC timestamps without Foundation's date formatters: those open ICU's calendar, locale and
/// time-zone data, several MiB of pages that `feather bench` would then count in every test's
/// peak resident memory.
public enum UTCTime {
    /// "2026-11-27T06:54:40Z", what ISO8601DateFormatter() writes.
    public static func iso8601(_ date: Date = Date()) -> String {
        let t = fields(date)
        return "\(pad(t.year, 4))-\(pad(t.month, 2))-\(pad(t.day, 2))T\(pad(t.hour, 2)):\(pad(t.minute, 2)):\(pad(t.second, 2))Z"
    }

    /// "20261127-065440", for file names.
    public static func compact(_ date: Date = Date()) -> String {
        let t = fields(date)
        return "\(pad(t.year, 4))\(pad(t.month, 2))\(pad(t.day, 2))-\(pad(t.hour, 2))\(pad(t.minute, 2))\(pad(t.second, 2))"
    }

    static func fields(_ date: Date) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var tm = tm()
        _ = gmtime_r(&seconds, &tm)
        return (Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec))
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
