import Engine
import Foundation
import Models
import Tokenizers

/// The built-in engine as an eval backend. Log-likelihood requests run one at a time (the model's
/// forward pass already uses every core). Generation requests run one at a time with `batchSize` 1;
/// with more, up to `batchSize` of them decode together through a `Scheduler` (one batched forward
/// pass per token, so each weight matrix is read once for all of them). A batched row is computed
/// exactly as a lone one (for Q4_K/Q6_K too, whose llama.cpp order otherwise depends on the batch),
/// so the text does not depend on the batch (`LocalBackendTests.batchedGenerationEqualsSequential`).
public actor LocalBackend: Backend {
    public let engine: Engine
    public nonisolated let identity: BackendIdentity
    public nonisolated let batchSize: Int
    public nonisolated var parallelism: Int { batchSize }
    private let chat: ChatFormatter?
    private let runner: SequenceRunner
    private var state: SequenceState { runner.state }
    private var chatError: String?
    private var scheduler: Scheduler?

    public init(engine: Engine, modelPath: String, chatTemplateFile: String? = nil, batchSize: Int = 1) {
        self.engine = engine
        self.batchSize = max(1, batchSize)
        var details = ["architecture": engine.model.config.architecture, "contextLength": String(engine.contextLength),
                       "cacheType": engine.cacheType.rawValue, "layers": String(engine.model.config.layers),
                       "vocabSize": String(engine.model.config.vocabSize)]
        if let size = (try? FileManager.default.attributesOfItem(atPath: modelPath))?[.size] as? Int {
            details["fileBytes"] = String(size)
        }
        identity = BackendIdentity(kind: "local", model: URL(fileURLWithPath: modelPath).deletingPathExtension().lastPathComponent,
                                   location: modelPath, details: details)
        do { chat = try ChatFormatter(engine: engine, templateFile: chatTemplateFile) } catch {
            chat = nil
            chatError = "\(error)"
        }
        runner = engine.makeRunner()
    }

    /// Text tokens for eval data: BOS as the model asks, special-token text left as text.
    private func encode(_ text: String) -> [TokenID] {
        engine.tokenizer.tokenize(text, addSpecial: true, parseSpecial: false)
    }

    /// lm-evaluation-harness's `_encode_pair`: trailing spaces of the context move to the
    /// continuation, the pair is encoded whole, and the continuation is what follows the
    /// separately encoded context's length.
    func encodePair(context: String, continuation: String) -> (context: [TokenID], continuation: [TokenID]) {
        var context = context, continuation = continuation
        let trimmed = context.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        if trimmed.count < context.count {
            continuation = String(context.dropFirst(trimmed.count)) + continuation
            context = trimmed
        }
        let whole = encode(context + continuation)
        var contextTokens = encode(context)
        if contextTokens.isEmpty {
            // An empty context conditions on the start-of-text token, as lm-eval's prefix token.
            contextTokens = [engine.tokenizer.bos ?? engine.tokenizer.eos ?? 0]
            return (contextTokens, whole)
        }
        return (contextTokens, Array(whole.dropFirst(min(contextTokens.count, whole.count))))
    }

    public func loglikelihoods(_ requests: [LoglikelihoodRequest]) async throws -> [LoglikelihoodResult] {
        var results: [LoglikelihoodResult?] = Array(repeating: nil, count: requests.count)
        var i = 0
        while i < requests.count {
            // Requests with one context (the choices of one question) share its forward pass.
            var j = i + 1
            while j < requests.count && requests[j].context == requests[i].context { j += 1 }
            let pairs = requests[i..<j].map { encodePair(context: $0.context, continuation: $0.continuation) }
            let scored = try score(pairs)
            for (k, r) in scored.enumerated() { results[i + k] = r }
            i = j
        }
        return results.map { $0! }
    }

    /// Scores continuations. Pairs whose context tokens agree are run as one prefill of the
    /// context, then each continuation on top of it (the cache cut back between them); the
    /// continuation's first token is scored from the context's last logits.
    private func score(_ pairs: [(context: [TokenID], continuation: [TokenID])]) throws -> [LoglikelihoodResult] {
        guard let first = pairs.first else { return [] }
        for p in pairs where p.continuation.isEmpty { throw BackendError.emptyContinuation }
        let capacity = state.capacity
        let chunk = state.chunkSize
        let sharable = pairs.allSatisfy {
            $0.context == first.context && $0.continuation.count - 1 <= chunk && $0.context.count + $0.continuation.count - 1 <= capacity
        }
        guard sharable else { return try pairs.map { try scoreAlone($0.context, $0.continuation) } }
        let vocab = engine.model.config.vocabSize
        var last = [Float](repeating: 0, count: vocab)
        runner.reset()
        try runner.prefill(first.context, allLogits: false) { _, logits in
            _ = last.withUnsafeMutableBufferPointer { memcpy($0.baseAddress!, logits.baseAddress!, vocab * 4) }
        }
        let contextCount = state.count
        return try pairs.map { pair in
            var scores = TokenScores()
            last.withUnsafeBufferPointer { scores.add(pair.continuation[0], under: $0) }
            if pair.continuation.count > 1 {
                // Sliding-window rings survive a cut within the last chunk; `sharable` checked that.
                state.truncate(to: contextCount)
                try runner.score(Array(pair.continuation.dropLast()), targets: pair.continuation.dropFirst(), firstScored: 0, into: &scores)
            }
            return LoglikelihoodResult(logprob: scores.logprob, isGreedy: scores.greedy, tokens: pair.continuation.count)
        }
    }

    /// One pair in one forward pass over (context + continuation) minus the last token, left-truncated to the context window.
    private func scoreAlone(_ context: [TokenID], _ continuation: [TokenID]) throws -> LoglikelihoodResult {
        var all = context + continuation
        let capacity = state.capacity
        if all.count - 1 > capacity { all.removeFirst(all.count - 1 - capacity) }
        guard continuation.count < all.count else { throw BackendError.contextTooLong(tokens: all.count, limit: capacity) }
        let input = Array(all.dropLast())
        var scores = TokenScores()
        runner.reset()
        try runner.score(input, targets: continuation[...], firstScored: input.count - continuation.count, into: &scores)
        return LoglikelihoodResult(logprob: scores.logprob, isGreedy: scores.greedy, tokens: continuation.count)
    }

    public func generate(_ requests: [GenerationRequestSpec]) async throws -> [String] {
        var out: [String] = []
        for r in requests {
            var prompt: [TokenID]
            switch r.input {
            case .text(let text): prompt = encode(text)
            case .chat(let messages):
                guard let chat else { throw BackendError.badResponse(endpoint: "local", detail: chatError ?? "no chat template") }
                prompt = try chat.tokens(messages, addGenerationPrompt: true)
            }
            // Left-truncate a prompt that leaves no room to generate, as lm-eval does.
            let room = engine.contextLength - r.maxTokens
            if prompt.count > room && room > 0 { prompt.removeFirst(prompt.count - room) }
            let sampling = r.samples
                ? SamplingParameters(temperature: Float(r.temperature ?? 0), topK: 0, topP: 1, minP: 0, seed: r.seed ?? 0) : .greedy
            var request = GenerationRequest(prompt: prompt, maxTokens: r.maxTokens, sampling: sampling)
            request.stopAtEndOfGeneration = true
            if batchSize > 1 {
                out.append(try await generateBatched(request, stops: r.stop))
                continue
            }
            var matcher = StopMatcher(r.stop)
            let result = try engine.generate(request) { token in
                _ = matcher.feed(token.text)
                return !matcher.stopped
            }
            out.append(StopMatcher.cut(result.text, at: r.stop))
        }
        return out
    }

    /// One request through the scheduler: while it decodes, the actor takes the runner's other
    /// requests, which join the same batched steps. Leaving the stream at a stop sequence cancels
    /// the request and frees its slot.
    private func generateBatched(_ request: GenerationRequest, stops: [String]) async throws -> String {
        let scheduler = self.scheduler ?? {
            let s = Scheduler(engine: engine, slots: batchSize, queueLimit: 4 * batchSize)
            s.start()
            self.scheduler = s
            return s
        }()
        var matcher = StopMatcher(stops)
        var text = ""
        let stream = try scheduler.submit(request)
        loop: for try await event in stream {
            switch event {
            case .prompt, .endOfGeneration: continue
            case .token(let token):
                text += matcher.feed(token.text)
                if matcher.stopped { break loop }
            case .finished(_, let tail, _):
                text += matcher.feed(tail) + matcher.flush()
            }
        }
        return text
    }

    /// Ends the scheduler's loop thread (batched generation), if one was started.
    public func shutdown() {
        scheduler?.drain()
        scheduler = nil
    }

    /// lm-evaluation-harness's rolling windows (context length 1): every token of the text is
    /// scored once; the first under BOS alone, later windows with the preceding tokens as context.
    public func rollingLoglikelihood(_ text: String, window: Int) async throws -> RollingResult {
        let tokens = engine.tokenizer.tokenize(text, addSpecial: false, parseSpecial: false)
        guard !tokens.isEmpty else { return RollingResult(logprob: 0, tokens: 0) }
        let prefix = engine.tokenizer.bos ?? engine.tokenizer.eos ?? 0
        let maxLength = min(window, state.capacity)
        var predicted = 0
        var scores = TokenScores()
        func run(_ input: [TokenID], _ targets: ArraySlice<TokenID>) throws {
            runner.reset()
            try runner.score(input, targets: targets, firstScored: input.count - targets.count, into: &scores)
        }
        let firstLength = min(maxLength, tokens.count)
        try run([prefix] + tokens[0..<(firstLength - 1)], tokens[0..<firstLength])
        predicted = firstLength
        while predicted < tokens.count {
            let n = min(tokens.count - predicted, maxLength)
            let end = predicted + n
            try run(Array(tokens[max(0, end - maxLength - 1)..<(end - 1)]), tokens[(end - n)..<end])
            predicted += n
        }
        return RollingResult(logprob: scores.logprob, tokens: tokens.count)
    }
}
