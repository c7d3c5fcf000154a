import ArgumentParser
import Backends
import Foundation

/// `feather run`: one prompt in, the generated text out (timings on stderr with --verbose).
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate text from a prompt with the built-in engine.")

    @Argument(help: "A .gguf path or a model short name.") var model: String
    @Option(name: .shortAndLong, help: "The prompt.") var prompt: String
    @Option(name: .short, help: "Tokens to generate at most.") var n = 128
    @OptionGroup var samplingOptions: SamplingOptions
    @Option(name: .short, help: "Threads (default: physical cores).") var t: Int?
    @Option(help: "Context length in tokens.") var ctx = 4096
    @Option(name: .customLong("cache-type"), help: "KV cache type: f16 or f32.") var cacheType = "f16"
    @Option(help: "Alternatives per token in --json output.") var logprobs = 5
    @Flag(help: "Print tokens, logprobs and timings as JSON.") var json = false
    @Flag(help: "Timings on stderr.") var verbose = false
    @Flag(help: "Apply the chat template: the prompt is one user message.") var chat = false
    @Option(name: .customLong("chat-template"), help: "A Jinja chat template file (implies --chat).") var chatTemplate: String?
    @Option(help: "System message (implies --chat).") var system: String?
    @Option(name: .customLong("json-schema"), help: ArgumentHelp("Constrain the output to JSON valid under this JSON Schema: a file, or the schema itself when it starts with '{'.",
                                                                 valueName: "FILE"))
    var jsonSchema: String?
    @Flag(name: .customLong("json-object"), help: "Constrain the output to a JSON object.") var jsonObject = false

    func validate() throws {
        try CommonOptions.checkThreads(t)
        try CommonOptions.checkContext(ctx)
        try CommonOptions.checkMaxTokens(n)
        guard logprobs >= 0 else { throw ValidationError("--logprobs must be at least 0 (got \(logprobs))") }
        if jsonSchema != nil && jsonObject { throw ValidationError("--json-schema and --json-object exclude each other") }
    }

    /// The output constraint the options ask for; the schema file is read here.
    func outputConstraint() throws -> OutputConstraint {
        if jsonObject { return .jsonObject }
        guard let jsonSchema else { return .text }
        if jsonSchema.drop(while: \.isWhitespace).first == "{" { return .jsonSchema(jsonSchema) }
        do { return .jsonSchema(try String(contentsOfFile: jsonSchema, encoding: .utf8)) } catch {
            throw ValidationError("cannot read the JSON Schema file \(jsonSchema): \((error as NSError).localizedDescription)")
        }
    }

    func run() async throws {
        guard let options = LocalModelOptions(threads: t, contextLength: ctx, cacheTypeName: cacheType) else {
            throw ValidationError("--cache-type is f16 or f32")
        }
        let local: LocalModel
        do {
            local = try BackendFactory.localModel(path: try resolveModelPath(model), options: options, warning: CommonOptions.warn)
        } catch {
            throw fail(error)
        }
        let promptTokens: [Int32]
        if chat || chatTemplate != nil || system != nil {
            do {
                let conversation = try local.chat(system: system, templateFile: chatTemplate)
                if verbose { FileHandle.standardError.write(Data("chat template: \(conversation.templateOrigin)\n".utf8)) }
                promptTokens = try conversation.prompt(for: prompt)
            } catch {
                throw fail(error)
            }
        } else {
            promptTokens = local.tokenize(prompt)
        }
        let output = try outputConstraint()
        let result: LocalGeneration
        do {
            result = try local.generate(prompt: promptTokens, maxTokens: n, sampling: samplingOptions.sampling,
                                        topLogprobs: json ? logprobs : 0, promptLogprobs: json, output: output) { text in
                if !json {
                    FileHandle.standardOutput.write(Data(text.utf8))
                }
            }
        } catch {
            throw fail(error)
        }
        let tm = result.speed
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            struct Output: Encodable {
                let prompt_tokens: [Int32]
                let result: LocalGeneration
                let prompt_tokens_per_second: Double
                let generation_tokens_per_second: Double
            }
            let data = try encoder.encode(Output(prompt_tokens: promptTokens, result: result,
                                                 prompt_tokens_per_second: tm.promptTokensPerSecond,
                                                 generation_tokens_per_second: tm.generationTokensPerSecond))
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            print("")
        }
        if verbose {
            let line = String(format: "prompt: %d tokens, %.2f s, %.1f tok/s; generation: %d tokens, %.2f s, %.1f tok/s\n",
                              tm.promptTokens, tm.promptSeconds, tm.promptTokensPerSecond,
                              tm.generatedTokens, tm.generationSeconds, tm.generationTokensPerSecond)
            FileHandle.standardError.write(Data(line.utf8))
            if let c = tm.constraintSeconds {
                let share = tm.generationSeconds > 0 ? 100 * c / tm.generationSeconds : 0
                FileHandle.standardError.write(Data(String(format: "output grammar: %.3f s of the generation (%.1f%%)\n", c, share).utf8))
            }
        }
    }
}

/// Prints one line to stderr and gives the exit code 1 (DESIGN.md: errors reach the user as one clear line).
func fail(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    return ExitCode.failure
}
