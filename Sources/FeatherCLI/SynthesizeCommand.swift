import ArgumentParser
import Foundation
import Weigh

/// `feather synthesize CATALOG_ID -o FILE`: a published configuration at full shape with random weights (speed and
/// memory only); `feather synthesize ARCH FILE --embedding ...`: a tiny model with a real one's quirks (oracle scripts).
struct Synthesize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a GGUF with a published model's exact shapes, tensor types and metadata, and random weights.",
        discussion: """
            feather synthesize CATALOG_ID -o FILE [--quant q4_k_m|q8_0|q4_0|f16] [--layers N] [--seed S]: the \
            configuration's tensor names, shapes and metadata (RoPE, sliding window, head dims, norms, context), every \
            tensor at the type llama.cpp's quantization recipe gives it, random weights with valid block scales, the real \
            tokenizer where one is at hand (Gemma 3 from the embedded gemma3-270m, SmolLM2 from smollm2-135m, Mistral's \
            tekken from the data folder), and general.synthetic = true. Speed and memory do not depend on weight values: \
            `feather bench FILE` measures them; nothing about quality can be. --layers N keeps the first N blocks.
            Written to FILE.part, renamed when whole; the disk space is checked first.

            feather synthesize ARCH FILE [--layers 2 --embedding 64 ...] (ARCH llama, mistral3 or gemma3): a tiny \
            random model with F32 weights, for the oracle scripts and tests.
            """)

    @Argument(help: "A catalog id (see `feather fit --list`), or llama|mistral3|gemma3 for a tiny test model.") var model: String
    @Argument(help: "Output .gguf path (tiny test models).") var legacyOutput: String?
    @Option(name: .shortAndLong, help: "Output .gguf path.") var output: String?
    @Option(help: "Quantization recipe: q4_k_m, q8_0, q4_0 or f16.") var quant = "q4_k_m"
    @Option(help: "Keep the first N blocks (default: all; tiny models: 2).") var layers: Int?
    @Option(help: "Random seed of the weights.") var seed: UInt64 = 1
    @Flag(help: "Replace FILE if it exists.") var force = false

    // Tiny test models only.
    @Option var embedding = 64
    @Option var heads = 4
    @Option var kvHeads = 2
    @Option(help: "Head dim when it differs from embedding/heads (Mistral Small 3.1: 128).") var headDim: Int?
    @Option var ffn = 128
    @Option var context = 256
    @Option var ropeBase: Float = 10_000
    @Option(help: "Linear RoPE scaling factor (Gemma 3 4B+: 8).") var ropeScaling: Float?
    @Option var slidingWindow: Int?

    func run() async throws {
        if ["llama", "mistral3", "gemma3"].contains(model) {
            guard let path = legacyOutput ?? output else { throw ValidationError("give the output path") }
            do {
                try SyntheticModelFile.write(architecture: model, to: path, layers: layers ?? 2, embeddingWidth: embedding, heads: heads,
                                             kvHeads: kvHeads, headDim: headDim, ffnWidth: ffn, contextLength: context, ropeBase: ropeBase,
                                             ropeScalingFactor: ropeScaling, slidingWindow: slidingWindow, seed: seed)
            } catch let error as UnknownName {
                throw ValidationError(error.description)
            }
            return
        }
        guard let path = output ?? legacyOutput else { throw ValidationError("give the output file: -o FILE") }
        guard let recipe = QuantRecipe.parse(quant) else {
            throw ValidationError("unknown quantization '\(quant)' (known: \(QuantRecipe.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        do {
            let s = try ModelSynthesizer(model: model, recipe: recipe, layers: layers, seed: seed)
            if FileManager.default.fileExists(atPath: path), !force {
                throw ValidationError("\(path) exists; give --force to replace it")
            }
            let size = s.tensorBytes
            stderr("synthesizing \(s.published.displayName), \(recipe.displayName), \(s.facts.layers) of \(s.published.layers) blocks, "
                   + "\(s.tensors.count) tensors, \(Format.bytes(size)) of weights, seed \(seed)")
            let start = Date()
            let progress = ProgressReporter()
            let tokenizer = try s.write(to: path, progress: { p in progress.report(p) })
            progress.finish()
            stderr("tokenizer: \(tokenizer)")
            stderr(String(format: "wrote %@ in %.1f s (%@)", path, Date().timeIntervalSince(start), ModelSynthesizer.label))
        } catch let e as ValidationError {
            throw e
        } catch {
            throw fail(error)
        }
    }

    func stderr(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
}

/// One stderr line per 5% (or per second on a terminal, rewritten in place).
final class ProgressReporter {
    let tty = isatty(STDERR_FILENO) == 1
    var lastPercent = -1
    var lastTime = Date.distantPast

    func report(_ p: ModelSynthesizer.Progress) {
        let percent = p.totalBytes > 0 ? 100 * p.bytesWritten / p.totalBytes : 100
        let line = "  \(percent)% (\(Format.bytes(p.bytesWritten)) of \(Format.bytes(p.totalBytes)), tensor \(p.tensor + 1)/\(p.tensors))"
        if tty {
            guard Date().timeIntervalSince(lastTime) >= 0.5 else { return }
            lastTime = Date()
            FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
        } else if percent / 5 != lastPercent / 5 {
            lastPercent = percent
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func finish() { if tty { FileHandle.standardError.write(Data("\n".utf8)) } }
}
