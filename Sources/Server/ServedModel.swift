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
    /// POST /v1/embeddings, beside the scheduler (see `Embedder`).
    public let embedder: Embedder
    /// Nil when the template cannot be parsed; chat requests then get an error naming the reason.
    let chat: Result<ChatFormatter, ChatError>

    public init(path: String, engine: Engine, parallel: Int, queueLimit: Int) {
        let file = URL(fileURLWithPath: path).lastPathComponent
        id = file.hasSuffix(".gguf") ? String(file.dropLast(5)) : file
        aliases = [id, file, path]
        self.engine = engine
        scheduler = Scheduler(engine: engine, slots: parallel, queueLimit: queueLimit)
        embedder = Embedder(engine: engine)
        do { chat = .success(try ChatFormatter(engine: engine)) } catch let e as ChatError { chat = .failure(e) } catch {
            chat = .failure(.render("\(error)"))
        }
    }
}
