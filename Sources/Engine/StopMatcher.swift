import Foundation

/// Holds back generated text that could be the start of a stop sequence, and cuts the text at
/// the first stop sequence (which is not returned, as OpenAI does).
public struct StopMatcher: Sendable {
    public let stops: [String]
    private var held = ""
    public private(set) var stopped = false

    public init(_ stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Text safe to send after `piece` arrives.
    public mutating func feed(_ piece: String) -> String {
        guard !stopped else { return "" }
        held += piece
        guard !stops.isEmpty else { defer { held = "" }; return held }
        if let cut = stops.compactMap({ held.range(of: $0)?.lowerBound }).min() {
            stopped = true
            defer { held = "" }
            return String(held[..<cut])
        }
        let keep = Self.partialMatchLength(held, of: stops)
        let ready = String(held.dropLast(keep))
        held = String(held.suffix(keep))
        return ready
    }

    /// The length (in characters) of the longest tail of `text` that is a prefix of one of `markers`:
    /// what must be held back because the next piece may complete a marker.
    public static func partialMatchLength(_ text: String, of markers: [String]) -> Int {
        var keep = 0
        for marker in markers {
            for n in stride(from: min(marker.count, text.count), to: 0, by: -1) where n > keep {
                if text.hasSuffix(marker.prefix(n)) { keep = n; break }
            }
        }
        return keep
    }

    /// What is left when generation ends without a stop sequence.
    public mutating func flush() -> String {
        defer { held = "" }
        return stopped ? "" : held
    }

    /// The text before the first stop sequence (all of it when none occurs).
    public static func cut(_ text: String, at stops: [String]) -> String {
        var matcher = StopMatcher(stops)
        return matcher.feed(text) + matcher.flush()
    }
}
