import ArgumentParser
import Weigh

/// Writes a small random-weight model with a real model's shape quirks (for oracle scripts and tests).
struct Synthesize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a small synthetic GGUF model with random weights (for tests against llama.cpp).",
        shouldDisplay: false)

    @Argument(help: "llama, mistral3 or gemma3.") var architecture: String
    @Argument(help: "Output .gguf path.") var output: String
    @Option var layers = 2
    @Option var embedding = 64
    @Option var heads = 4
    @Option var kvHeads = 2
    @Option(help: "Head dim when it differs from embedding/heads (Mistral Small 3.1: 128).") var headDim: Int?
    @Option var ffn = 128
    @Option var context = 256
    @Option var ropeBase: Float = 10_000
    @Option(help: "Linear RoPE scaling factor (Gemma 3 4B+: 8).") var ropeScaling: Float?
    @Option var slidingWindow: Int?
    @Option var seed: UInt64 = 1

    func run() async throws {
        do {
            try SyntheticModelFile.write(architecture: architecture, to: output, layers: layers, embeddingWidth: embedding, heads: heads,
                                         kvHeads: kvHeads, headDim: headDim, ffnWidth: ffn, contextLength: context, ropeBase: ropeBase,
                                         ropeScalingFactor: ropeScaling, slidingWindow: slidingWindow, seed: seed)
        } catch let error as UnknownName {
            throw ValidationError(error.description)
        }
    }
}
