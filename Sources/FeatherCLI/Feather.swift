import ArgumentParser
import Backends

@main
struct Feather: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feather",
        abstract: "Run lightweight open LLMs locally and weigh them against each other.",
        subcommands: [Inspect.self, Models.self, Pull.self, Run.self, Chat.self, Serve.self, Perplexity.self, Tokenize.self, Detokenize.self,
                      Bench.self, Fit.self, Compare.self, Eval.self, Synthesize.self]
    )
}

/// A model path from a path or short name (see `feather models`).
func resolveModelPath(_ model: String) throws -> String {
    try ModelSpecResolver().path(model)
}
