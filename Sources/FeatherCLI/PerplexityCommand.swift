import ArgumentParser
import Backends
import Foundation

/// `feather perplexity`: llama-perplexity's method over a text file.
struct Perplexity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity of a model on a text file, computed as llama.cpp's llama-perplexity does.")
    @Argument(help: "A .gguf path or a model short name.") var model: String
    @Option(name: .shortAndLong, help: "UTF-8 text file.") var file: String
    @Option(help: "Tokens per chunk.") var ctx = 512
    @Option(help: "Chunks to score at most.") var chunks: Int?
    @Option(name: .short, help: "Threads.") var t: Int?

    func validate() throws {
        try CommonOptions.checkThreads(t)
        try CommonOptions.checkContext(ctx)
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be at least 1 (got \(chunks))") }
    }

    func run() async throws {
        do {
            let text = try CommonOptions.readText(file)
            let local = try BackendFactory.localModel(path: try resolveModelPath(model), options: LocalModelOptions(threads: t, contextLength: ctx))
            let r = try local.perplexity(text: text, contextLength: ctx, maxChunks: chunks) { c, ppl in
                FileHandle.standardError.write(Data("[\(c)] \(String(format: "%.4f", ppl))\n".utf8))
            }
            print(String(format: "perplexity: %.4f over %d chunks (%d scored tokens, ctx %d)", r.perplexity, r.chunks, r.scoredTokens, ctx))
        } catch {
            throw fail(error)
        }
    }
}
