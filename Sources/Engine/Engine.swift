import Compute
import Foundation
import GGUF
import Grammar
import Models
import Tokenizers

/// What to generate.
public struct GenerationRequest: Sendable {
    public var prompt: [TokenID]
    public var maxTokens: Int = 128
    public var sampling: SamplingParameters = .greedy
    /// Alternatives reported with each generated token (0: only the chosen token's logprob).
    public var topLogprobs: Int = 0
    /// Whether to score the prompt tokens (each under the tokens before it).
    public var promptLogprobs: Bool = false
    /// Stop at the tokenizer's end-of-generation tokens (EOS, EOT, ...).
    public var stopAtEndOfGeneration = true
    /// When set, only output this grammar matches is generated (JSON, a JSON Schema, a tool call);
    /// the generation ends when the output is complete and the model chooses to end it.
    public var grammar: Grammar?
    /// Write control tokens' texts into the generated text (tool-call markers such as Mistral's
    /// `[TOOL_CALLS]` and Llama 3's `<|python_tag|>` are control tokens).
    public var renderSpecialTokens = false

    public init(prompt: [TokenID], maxTokens: Int = 128, sampling: SamplingParameters = .greedy,
                topLogprobs: Int = 0, promptLogprobs: Bool = false) {
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.topLogprobs = topLogprobs
        self.promptLogprobs = promptLogprobs
    }
}

/// One generated token as it streams.
public struct GeneratedToken: Sendable, Equatable, Codable {
    public var id: TokenID
    /// The text this token completes (UTF-8 held back until a character is whole).
    public var text: String
    public var logprob: Float
    public var topLogprobs: [TokenLogProb]
}

public enum FinishReason: String, Sendable, Codable { case stop, length }

public struct GenerationTimings: Sendable, Codable, Equatable {
    public var promptTokens = 0
    public var promptSeconds = 0.0
    public var generatedTokens = 0
    public var generationSeconds = 0.0
    /// Of which spent applying the request's grammar (nil without one).
    public var constraintSeconds: Double?
    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    public var generationTokensPerSecond: Double { generationSeconds > 0 ? Double(generatedTokens) / generationSeconds : 0 }
}

public struct GenerationResult: Sendable, Codable {
    public var tokens: [GeneratedToken]
    public var text: String
    public var finishReason: FinishReason
    /// For prompt token i ≥ 1, its logprob given tokens 0..<i; nil for the first.
    public var promptLogprobs: [TokenLogProb?]
    public var timings: GenerationTimings
}

public enum EngineError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    /// The KV caches of `sequences` sequences of `context` tokens need more than this machine's memory.
    case contextTooLarge(context: Int, sequences: Int, cacheBytes: Int, memoryBytes: Int, trained: Int)
    case invalidSampling(String)

    public var description: String {
        switch self {
        case .emptyPrompt: "the prompt has no tokens"
        case .contextTooLarge(let context, let sequences, let bytes, let memory, let trained):
            "a context of \(context) tokens needs \(Self.gigabytes(bytes)) of KV cache" + (sequences > 1 ? " for \(sequences) sequences" : "")
                + ", more than this machine's \(Self.gigabytes(memory)) of memory: lower --ctx (the model was trained for \(trained) tokens)"
        case .invalidSampling(let message): message
        }
    }

    static func gigabytes(_ bytes: Int) -> String { String(format: "%.1f GB", Double(bytes) / 1e9) }
}

/// A loaded model with its tokenizer: runs generations, one sequence state per request.
public final class Engine: Sendable {
    public let model: any LanguageModel
    public let tokenizer: Tokenizer
    /// Context of each sequence, in tokens.
    public let contextLength: Int
    public let cacheType: KVCacheType
    /// The chat template stored in the file (`tokenizer.chat_template`), if any.
    public let chatTemplate: String?

    public init(model: any LanguageModel, tokenizer: Tokenizer, contextLength: Int? = nil, cacheType: KVCacheType = .f16,
                chatTemplate: String? = nil) {
        self.model = model
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        self.contextLength = contextLength ?? min(model.config.contextLength, 4096)
        self.cacheType = cacheType
    }

    /// Threads of the forward pass when none are asked for: this machine's physical cores.
    public static var defaultThreads: Int { ThreadPool.physicalCores }
    /// The KV cache type when none is asked for (llama.cpp's default too).
    public static let defaultCacheType = KVCacheType.f16

    /// Maps the file, reads its configuration and tokenizer.
    public convenience init(path: String, threads: Int = Engine.defaultThreads, contextLength: Int? = nil,
                            cacheType: KVCacheType = .f16) throws {
        let file = try GGUFFile(path: path)
        let model = try ModelRegistry.load(file: file, pool: try ThreadPool(threads: threads))
        try self.init(model: model, tokenizer: Tokenizer(gguf: file), contextLength: contextLength, cacheType: cacheType,
                      chatTemplate: file.string("tokenizer.chat_template"))
        file.releaseHeaderPages()
        try checkMemory(sequences: 1)
    }

    /// Throws when the KV caches of `sequences` sequences at `contextLength` (the bytes they will
    /// allocate, by ModelConfig's arithmetic) exceed this machine's physical memory: a clear error
    /// instead of an allocation failure.
    public func checkMemory(sequences: Int, memoryBytes: Int = Int(clamping: ProcessInfo.processInfo.physicalMemory)) throws(EngineError) {
        // A token takes at least one byte of cache, so counting at most memoryBytes tokens decides the
        // same and keeps the integer arithmetic from overflowing (the figure is then a lower bound).
        let tokens = min(contextLength, memoryBytes)
        let total = Double(model.config.kvCacheBytes(tokens: tokens, bytesPerElement: cacheType.bytes)) * Double(max(1, sequences))
        if total > Double(memoryBytes) {
            throw .contextTooLarge(context: contextLength, sequences: sequences, cacheBytes: Int(min(total, Double(Int.max / 2))),
                                   memoryBytes: memoryBytes, trained: model.config.contextLength)
        }
    }

    /// Whether `contextLength` exceeds what the model was trained for (quality degrades past it).
    public var contextExceedsTraining: Bool { contextLength > model.config.contextLength }

    /// What to tell the user when `contextLength` exceeds the trained context; nil otherwise.
    public var trainingContextWarning: String? {
        guard contextExceedsTraining else { return nil }
        return "warning: --ctx \(contextLength) exceeds the model's trained context (\(model.config.contextLength) tokens); quality degrades past it"
    }

    /// The prompt's tokens, with BOS as the model's metadata says.
    public func tokenize(_ text: String) -> [TokenID] { tokenizer.tokenize(text, addSpecial: true, parseSpecial: true) }

    /// A runner over a fresh sequence state of `contextLength` tokens (the engine's by default).
    public func makeRunner(contextLength: Int? = nil) -> SequenceRunner {
        SequenceRunner(model: model, state: model.makeState(contextLength: contextLength ?? self.contextLength, cacheType: cacheType))
    }

    /// Runs the request; `onToken` sees each token as it is chosen and returns false to stop.
    public func generate(_ request: GenerationRequest,
                         onToken: (GeneratedToken) throws -> Bool = { _ in true }) throws -> GenerationResult {
        guard !request.prompt.isEmpty else { throw EngineError.emptyPrompt }
        let runner = makeRunner()
        var generation = Generation(request, tokenizer: tokenizer)
        let (promptLogprobs, _) = try generation.prefill(runner, withTop: false)
        var out: [GeneratedToken] = []
        var text = ""
        var finish = FinishReason.length
        while generation.generated < request.maxTokens {
            guard let token = generation.emit() else { finish = .stop; break }
            out.append(token)
            text += token.text
            if try !onToken(token) { finish = .stop; break }
            if generation.isComplete(runner.state) { break }
            try runner.step(token.id) { generation.choose($0) }
        }
        let (tail, timings) = generation.finish()
        text += tail
        return GenerationResult(tokens: out, text: text, finishReason: finish, promptLogprobs: promptLogprobs, timings: timings)
    }

    /// The generated tokens as an async sequence; generation runs on a detached task.
    public func stream(_ request: GenerationRequest) -> AsyncThrowingStream<GeneratedToken, Error> {
        AsyncThrowingStream { continuation in
            let task = Task.detached { [self] in
                do {
                    _ = try generate(request) { token in
                        if Task.isCancelled { return false }
                        continuation.yield(token)
                        return true
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
