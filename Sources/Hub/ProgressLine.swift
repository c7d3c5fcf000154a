import Foundation

/// How far one file's download is.
public struct DownloadProgress: Sendable, Equatable {
    public var file: String
    public var received: Int64
    public var total: Int64
    /// Bytes per second over this run of the download (a resumed part does not count).
    public var bytesPerSecond: Double
    public var done: Bool

    public init(file: String, received: Int64, total: Int64, bytesPerSecond: Double, done: Bool = false) {
        (self.file, self.received, self.total, self.bytesPerSecond, self.done) = (file, received, total, bytesPerSecond, done)
    }

    /// Seconds left at the current rate, if it is known.
    public var secondsLeft: Double? {
        bytesPerSecond > 0 && total >= received ? Double(total - received) / bytesPerSecond : nil
    }
}

/// A progress bar for one line of a terminal: `file  [#####-----]  45%  120.3 MiB / 266.0 MiB  12.1 MiB/s  ETA 0:12`.
public enum ProgressLine {
    public static func render(_ p: DownloadProgress, width: Int = 20) -> String {
        let fraction = p.total > 0 ? min(1, Double(p.received) / Double(p.total)) : 0
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
        let eta = p.done ? "done" : p.secondsLeft.map { "ETA " + duration($0) } ?? "ETA --"
        return [p.file, bar, String(format: "%3d%%", Int(fraction * 100)), "\(bytes(p.received)) / \(bytes(p.total))",
                bytes(Int64(p.bytesPerSecond)) + "/s", eta].joined(separator: "  ")
    }

    public static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n), unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.1f", value) + " " + units[unit]
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
