import ArgumentParser
import Backends
import Foundation
import Weigh

/// `feather perplexity`: llama-perplexity's method over a text file, and its KL divergence against a base.
struct Perplexity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity of a model on a text file, computed as llama.cpp's llama-perplexity does.",
        discussion: """
            --kl-divergence-base OUT writes llama-perplexity's KL-divergence base of the model on the text. \
            --kl-divergence-base IN --kl-divergence scores the model against such a base (from llama-perplexity or \
            feather) on the base's tokens and context; -f is then optional and, when given, must tokenize to the base's tokens.
            """)
    @Argument(help: "A .gguf path or a model short name.") var model: String
    @Option(name: .shortAndLong, help: "UTF-8 text file.") var file: String?
    @Option(help: "Tokens per chunk (with --kl-divergence: the base's).") var ctx = 512
    @Option(help: "Chunks to score at most.") var chunks: Int?
    @Option(name: .short, help: "Threads.") var t: Int?
    @Option(name: .customLong("kl-divergence-base"), help: "KL-divergence base file: written, or read with --kl-divergence.")
    var klDivergenceBase: String?
    @Flag(name: .customLong("kl-divergence"), help: "Score the model against --kl-divergence-base.") var klDivergence = false

    func validate() throws {
        try CommonOptions.checkThreads(t)
        try CommonOptions.checkContext(ctx)
        if let chunks, chunks < 1 { throw ValidationError("--chunks must be at least 1 (got \(chunks))") }
        if klDivergence {
            guard klDivergenceBase != nil else { throw ValidationError("--kl-divergence needs --kl-divergence-base FILE (the base to score against)") }
            if chunks != nil { throw ValidationError("--chunks does not apply to --kl-divergence: every chunk of the base is scored") }
        } else if file == nil {
            throw ValidationError("missing -f FILE (the text to score)")
        }
    }

    func run() async throws {
        do {
            if klDivergence, let basePath = klDivergenceBase {
                try scoreAgainstBase(basePath)
                return
            }
            let text = try CommonOptions.readText(file!)
            let local = try BackendFactory.localModel(path: try resolveModelPath(model), options: LocalModelOptions(threads: t, contextLength: ctx))
            let r = try local.perplexity(text: text, contextLength: ctx, maxChunks: chunks, basePath: klDivergenceBase) { c, ppl in
                FileHandle.standardError.write(Data("[\(c)] \(String(format: "%.4f", ppl))\n".utf8))
            }
            print(String(format: "perplexity: %.4f over %d chunks (%d scored tokens, ctx %d)", r.perplexity, r.chunks, r.scoredTokens, ctx))
            if let klDivergenceBase { print("KL-divergence base: \(klDivergenceBase)") }
        } catch {
            throw fail(error)
        }
    }

    private func scoreAgainstBase(_ basePath: String) throws {
        let text = try file.map { (name: $0, content: try CommonOptions.readText($0)) }
        let local = try BackendFactory.localModel(path: try resolveModelPath(model), options: LocalModelOptions(threads: t))
        print(KLDivergenceReport.chunkHeader)
        let result = try local.klDivergence(basePath: basePath, text: text) { print(KLDivergenceReport.chunkRow($0)) }
        print("")
        print(KLDivergenceReport.summary(result))
    }
}
