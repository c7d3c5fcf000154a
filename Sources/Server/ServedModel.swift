import Engine
import Foundation
import Models
import Tokenizers

/// One model the server offers: its engine, its scheduler and its chat template.
public final class ServedModel: Sendable {
    /// The id clients send as `model` (the file name without `.gguf`).
    public let id: String
    /// Other names that select it: the file name and the path.
    public let aliases: Set<String>
    public let engine: Engine
    public let scheduler: Scheduler
    /// Nil when the template cannot be parsed; chat requests then get an error naming the reason.
    let chat: Result<ChatFormatter, ChatError>

    public init(path: String, engine: Engine, parallel: Int, queueLimit: Int) {
        let file = URL(fileURLWithPath: path).lastPathComponent
        id = file.hasSuffix(".gguf") ? String(file.dropLast(5)) : file
        aliases = [id, file, path]
        self.engine = engine
        scheduler = Scheduler(engine: engine, slots: parallel, queueLimit: queueLimit)
        do { chat = .success(try ChatFormatter(engine: engine)) } catch let e as ChatError { chat = .failure(e) } catch {
            chat = .failure(.render("\(error)"))
        }
    }
}

/// Holds back generated text that could be the start of a stop sequence, and cuts the text at
/// the first stop sequence (which is not returned, as OpenAI does).
struct StopMatcher {
    let stops: [String]
    private var held = ""
    private(set) var stopped = false

    init(_ stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Text safe to send after `piece` arrives.
    mutating func feed(_ piece: String) -> String {
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
    mutating func flush() -> String {
        defer { held = "" }
        return stopped ? "" : held
    }
}
