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
        // Keep the longest tail that is a prefix of some stop sequence.
        var keep = 0
        for stop in stops {
            for n in stride(from: min(stop.count, held.count), to: 0, by: -1) where n > keep {
                if held.hasSuffix(stop.prefix(n)) { keep = n; break }
            }
        }
        let ready = String(held.dropLast(keep))
        held = String(held.suffix(keep))
        return ready
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
