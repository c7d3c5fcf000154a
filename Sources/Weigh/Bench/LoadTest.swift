import AsyncHTTPClient
import Foundation
import NIOCore
import OpenAIWire
import SeededRandom

/// Options of the serving load test.
public struct LoadTestOptions: Sendable {
    public enum API: String, Sendable, Codable { case chat, completions }
    public var endpoints: [String]
    public var model: String
    public var api = API.chat
    public var concurrency = [1]
    /// Requests per second of the Poisson arrivals; nil sends them all at once (bounded by concurrency).
    public var rates: [Double?] = [nil]
    public var numPrompts = 32
    public var inputTokens = 128
    public var outputTokens = 128
    public var dataset: String?
    public var dataDirectory = ".data"
    public var apiKey: String?
    /// Milliseconds; keys "ttft", "tpot", "itl", "e2el".
    public var slo: [String: Double] = [:]
    public var timeoutSeconds = 300.0
    public var ignoreEOS = true
    public var warmupRequests = 1
    public var seed: UInt64 = 0

    public init(endpoints: [String], model: String) {
        self.endpoints = endpoints
        self.model = model
    }
}

/// What happened to one request.
public struct RequestRecord: Sendable {
    public var endpoint: Int
    public var ok = false
    /// Error kind when not ok: "http_<status>", "timeout", "connection", "incomplete_stream",
    /// "malformed_stream", "stream_error", "cancelled".
    public var errorKind: String?
    public var errorMessage: String?
    public var start = 0.0
    /// Seconds from sending to the first chunk with text, and to the end of the stream.
    public var ttft: Double?
    public var latency = 0.0
    /// Gaps between consecutive chunks with text.
    public var itl: [Double] = []
    public var textChunks = 0
    public var usagePromptTokens: Int?
    public var usageCompletionTokens: Int?
    public var promptTokensEstimate = 0

    /// Output tokens: `usage.completion_tokens` when given, else the number of chunks with text.
    public var outputTokens: Int { usageCompletionTokens ?? textChunks }
    /// (latency − TTFT) / (output tokens − 1), vLLM's per-request TPOT.
    public var tpot: Double? {
        guard let ttft, outputTokens > 1 else { return nil }
        return (latency - ttft) / Double(outputTokens - 1)
    }
}

public struct ServingBench: Codable, Sendable {
    public var endpoints: [String]
    public var model: String
    public var api: LoadTestOptions.API
    /// "random" (≈inputTokens words per prompt) or the dataset's name.
    public var dataset: String
    public var inputTokens: Int?
    public var outputTokens: Int
    public var numPrompts: Int
    public var ignoreEOS: Bool
    public var sloMilliseconds: [String: Double]
    public var runs: [ServingRun]
}

public struct ServingRun: Codable, Sendable {
    public var concurrency: Int
    /// nil: all requests at once (rate = inf).
    public var requestRate: Double?
    public var durationSeconds: Double
    public var completed: Int
    public var failed: Int
    public var cancelled: Int
    public var errors: [String: Int]
    /// A sample of error messages, one per kind.
    public var errorExamples: [String: String]
    public var completedPerEndpoint: [Int]
    public var totalInputTokens: Int
    public var totalOutputTokens: Int
    /// "usage" when every completed request reported usage, "chunks" when none did, else "mixed".
    public var tokenCountSource: String
    public var inputTokenSource: String
    public var requestThroughput: Double
    public var outputTokenThroughput: Double
    public var totalTokenThroughput: Double
    /// Requests per second that met every SLO (nil without SLOs), and how many did.
    public var goodput: Double?
    public var goodRequests: Int?
    public var ttftMilliseconds: Statistics.Summary
    public var tpotMilliseconds: Statistics.Summary
    public var itlMilliseconds: Statistics.Summary
    public var e2elMilliseconds: Statistics.Summary
}

/// A load test of OpenAI-compatible endpoints with the metrics of vLLM's benchmark_serving.
public final class LoadTest: Sendable {
    public let options: LoadTestOptions
    let urls: [String]
    let progress: @Sendable (String) -> Void
    let interruption: Interruption

    public init(options: LoadTestOptions, interruption: Interruption = .shared,
                progress: @escaping @Sendable (String) -> Void) throws(BenchError) {
        guard !options.endpoints.isEmpty else { throw .badOption("--endpoint: give at least one URL") }
        let path = options.api == .chat ? "/chat/completions" : "/completions"
        urls = try options.endpoints.map { (e: String) throws(BenchError) -> String in
            guard let u = URL(string: e), let scheme = u.scheme, ["http", "https"].contains(scheme), u.host != nil else {
                throw .badEndpoint(e)
            }
            var base = e
            while base.hasSuffix("/") { base.removeLast() }
            if base.hasSuffix("/chat/completions") || base.hasSuffix("/completions") { return base }
            if !base.hasSuffix("/v1") { base += "/v1" }
            return base + path
        }
        self.options = options
        self.progress = progress
        self.interruption = interruption
    }

    /// The prompts: dataset questions (in file order, repeated as needed) or random words.
    public func prompts() throws(BenchError) -> [String] { try prompts(set: 0) }

    /// Prompt set `k`: random words from seed + k, or the dataset's questions from index k × num-prompts on.
    /// The warm-up takes set 0 and run k set k, so no request repeats an earlier one: a server with a prompt
    /// cache (llama-server keeps each slot's KV cache) would otherwise skip the prefill of a repeated prompt.
    public func prompts(set k: Int) throws(BenchError) -> [String] {
        let n = options.numPrompts
        guard let dataset = options.dataset else {
            return RandomPrompt.prompts(count: n, words: options.inputTokens, seed: options.seed &+ UInt64(k))
        }
        let file: String, key: String
        switch dataset {
        case "mt-bench": (file, key) = ("mt_bench_questions.jsonl", "turns")
        case "gsm8k": (file, key) = ("gsm8k_test.jsonl", "question")
        default: throw .dataset("--dataset: '\(dataset)' is not one of mt-bench, gsm8k")
        }
        let path = (options.dataDirectory as NSString).appendingPathComponent(file)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .dataset("--dataset \(dataset): cannot read \(path) (run scripts/fetch-data.sh)")
        }
        var questions: [String] = []
        for line in text.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
            if let s = o[key] as? String { questions.append(s) }
            if let turns = o[key] as? [String], let first = turns.first { questions.append(first) }  // MT-Bench: first turn
        }
        guard !questions.isEmpty else { throw .dataset("--dataset \(dataset): no questions in \(path)") }
        return (0..<n).map { questions[(k * n + $0) % questions.count] }
    }

    /// A greedy streamed request for `prompt` that reports its usage.
    func body(prompt: String) -> Data {
        let ignoreEos = options.ignoreEOS ? true : nil
        switch options.api {
        case .chat:
            var r = ChatCompletionRequest(model: options.model, messages: [.init(role: "user", content: prompt)])
            (r.stream, r.maxTokens, r.temperature, r.streamOptions, r.ignoreEos) = (true, options.outputTokens, 0, .init(includeUsage: true), ignoreEos)
            return (try? OpenAIJSON.requestEncoder().encode(r)) ?? Data()
        case .completions:
            var r = CompletionRequest(model: options.model, prompt: prompt)
            (r.stream, r.maxTokens, r.temperature, r.streamOptions, r.ignoreEos) = (true, options.outputTokens, 0, .init(includeUsage: true), ignoreEos)
            return (try? OpenAIJSON.requestEncoder().encode(r)) ?? Data()
        }
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Sends one streaming request and times its chunks.
    func send(_ client: HTTPClient, prompt: String, endpoint: Int) async -> RequestRecord {
        var record = RequestRecord(endpoint: endpoint)
        record.promptTokensEstimate = prompt.split(separator: " ").count
        var request = HTTPClientRequest(url: urls[endpoint])
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "text/event-stream")
        // A connection of its own per request: llama-server closes a connection after a stream without saying
        // `Connection: close`, so a request sent on the reused connection failed as if the server were down.
        request.headers.add(name: "Connection", value: "close")
        if let key = options.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.body = .bytes(ByteBuffer(bytes: Array(body(prompt: prompt))))
        let start = Self.now()
        record.start = start
        var gotHead = false
        var lastText: Double?
        var done = false
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(options.timeoutSeconds * 1000)))
            gotHead = true
            guard response.status == .ok else {
                var text = ""
                for try await part in response.body {
                    if text.utf8.count < 600 { text += String(buffer: part) }
                }
                record.errorKind = "http_\(response.status.code)"
                record.errorMessage = String(text.prefix(300))
                record.latency = Self.now() - start
                return record
            }
            var parser = ServerSentEventParser()
            var lastEvent: Double?
            func handle(_ events: [String], at t: Double) throws {
                for event in events {
                    for chunk in try CompletionChunk.parse(event) {
                        switch chunk {
                        case .done: done = true
                        case .error(let m): throw StreamError(message: m)
                        case .usage(let p, let c):
                            if let p { record.usagePromptTokens = p }
                            if let c { record.usageCompletionTokens = c }
                        case .text(let s, _):
                            guard !s.isEmpty else { continue }
                            if let last = lastText { record.itl.append(t - last) } else { record.ttft = t - start }
                            lastText = t
                            record.textChunks += 1
                        case .other: break
                        }
                    }
                    if !done { lastEvent = t }
                }
            }
            // Read to the end of the body (so the connection is reused); E2E ends at the last event before [DONE].
            for try await part in response.body {
                try handle(parser.feed(part.readableBytesView), at: Self.now())
            }
            if let last = parser.finish() { try handle([last], at: Self.now()) }
            record.latency = (lastEvent ?? Self.now()) - start
            if done {
                record.ok = true
            } else {
                record.errorKind = "incomplete_stream"
                record.errorMessage = "the stream ended before [DONE]"
            }
        } catch {
            record.latency = Self.now() - start
            (record.errorKind, record.errorMessage) = Self.classify(error, afterHead: gotHead)
        }
        return record
    }

    struct StreamError: Error { var message: String }

    static func classify(_ error: any Error, afterHead: Bool) -> (String, String) {
        if error is CancellationError { return ("cancelled", "cancelled") }
        if let e = error as? MalformedChunk { return ("malformed_stream", e.description) }
        if let e = error as? StreamError { return ("stream_error", e.message) }
        if let e = error as? HTTPClientError {
            if [.deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout, .getConnectionFromPoolTimeout].contains(e) {
                return ("timeout", "\(e)")
            }
            if e == .cancelled { return ("cancelled", "cancelled") }
        }
        return (afterHead ? "incomplete_stream" : "connection", "\(error)")
    }

    /// Runs one load per concurrency × rate combination; stops early on Ctrl-C.
    public func run() async throws -> ServingBench {
        let warmupPrompt = try prompts(set: 0).first
        let client = makeClient()
        var bench = ServingBench(endpoints: options.endpoints, model: options.model, api: options.api,
                                 dataset: options.dataset ?? "random",
                                 inputTokens: options.dataset == nil ? options.inputTokens : nil,
                                 outputTokens: options.outputTokens, numPrompts: options.numPrompts, ignoreEOS: options.ignoreEOS,
                                 sloMilliseconds: options.slo, runs: [])
        do {
            for e in 0..<urls.count {
                for _ in 0..<options.warmupRequests where !interruption.isRequested {
                    guard let warmupPrompt else { break }
                    let r = await send(client, prompt: warmupPrompt, endpoint: e)
                    progress("warm-up \(urls[e]): " + (r.ok ? "ok" : "\(r.errorKind ?? "?"): \(r.errorMessage ?? "")"))
                }
            }
            outer: for c in options.concurrency {
                for rate in options.rates {
                    if interruption.isRequested { break outer }
                    let prompts = try self.prompts(set: bench.runs.count + 1)
                    progress("load: concurrency \(c), rate \(rate.map { String($0) } ?? "inf"), \(prompts.count) requests")
                    let (records, duration) = await load(client, prompts: prompts, concurrency: c, rate: rate)
                    bench.runs.append(Self.summarize(records, duration: duration, concurrency: c, rate: rate,
                                                     endpoints: urls.count, slo: options.slo))
                }
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        return bench
    }

    /// The HTTP client every run uses: the read timeout from the options, no retries, no decompression, HTTP/1.
    func makeClient() -> HTTPClient {
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(10), read: .milliseconds(Int64(options.timeoutSeconds * 1000)))
        config.connectionPool = .init(idleTimeout: .seconds(60),
                                      concurrentHTTP1ConnectionsPerHostSoftLimit: max(8, options.concurrency.max() ?? 1))
        // A refused connection is an error to count, not something to retry until the deadline.
        config.connectionPool.retryConnectionEstablishment = false
        config.decompression = .disabled
        config.httpVersion = .http1Only
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
    }

    /// One request at a time (after the warm-up), each timed alone: what `compare` reads an endpoint's
    /// prefill (prompt tokens / TTFT) and decode (1 / TPOT) speed from.
    public func sequential() async throws -> [RequestRecord] {
        // Warm-up from set 0, measured prompts from set 1: a server's prompt cache never serves a measured one.
        let warmup = try self.prompts(set: 0), prompts = try self.prompts(set: 1)
        let client = makeClient()
        var records: [RequestRecord] = []
        for i in 0..<min(options.warmupRequests, warmup.count) {
            _ = await send(client, prompt: warmup[i], endpoint: 0)
        }
        for p in prompts where !interruption.isRequested {
            records.append(await send(client, prompt: p, endpoint: 0))
        }
        try await client.shutdown()
        return records
    }

    func load(_ client: HTTPClient, prompts: [String], concurrency: Int, rate: Double?) async -> ([RequestRecord], Double) {
        // Its own stream (the prompts use `seed`): arrival gaps, uniform in (0, 1) so log() is finite.
        var rng = SplitMix64(seed: options.seed &+ 0x5851_F42D_4C95_7F2D)
        func uniform() -> Double { rng.nextDouble() + 0.5 / Double(1 << 53) }
        let start = Self.now()
        var records: [RequestRecord] = []
        let interruption = self.interruption
        let progress = self.progress
        let total = prompts.count
        await withTaskGroup(of: RequestRecord?.self) { group in
            // Ctrl-C: cancel what is in flight; those requests are reported as cancelled.
            group.addTask {
                while !interruption.isRequested {
                    try? await Task.sleep(nanoseconds: 50_000_000)
                    if Task.isCancelled { return nil }
                }
                return nil
            }
            var inFlight = 0
            var arrival = 0.0
            func collect(_ r: RequestRecord?) {
                guard let r else { return }
                inFlight -= 1
                records.append(r)
                if records.count % max(1, total / 10) == 0 || records.count == total {
                    progress("  \(records.count)/\(total) done")
                }
            }
            for (i, prompt) in prompts.enumerated() {
                if interruption.isRequested { break }
                if let rate {
                    // Poisson process: exponential gaps with mean 1/rate.
                    arrival += -log(uniform()) / rate
                    let wait = start + arrival - Self.now()
                    if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
                }
                while inFlight >= concurrency, !interruption.isRequested {
                    if let r = await group.next() { collect(r) } else { break }
                }
                if interruption.isRequested { break }
                let endpoint = i % urls.count
                inFlight += 1
                group.addTask { await self.send(client, prompt: prompt, endpoint: endpoint) }
            }
            if interruption.isRequested { group.cancelAll() }
            while inFlight > 0, let r = await group.next() {
                collect(r)
                if interruption.isRequested { group.cancelAll() }
            }
            group.cancelAll()
        }
        return (records, Self.now() - start)
    }

    /// The metrics of one run (definitions in `LoadTestReport.definitions`).
    public static func summarize(_ records: [RequestRecord], duration: Double, concurrency: Int, rate: Double?,
                                 endpoints: Int, slo: [String: Double]) -> ServingRun {
        let ok = records.filter(\.ok)
        let cancelled = records.filter { $0.errorKind == "cancelled" }.count
        var errors: [String: Int] = [:], examples: [String: String] = [:]
        for r in records where !r.ok && r.errorKind != "cancelled" {
            let k = r.errorKind ?? "unknown"
            errors[k, default: 0] += 1
            if examples[k] == nil { examples[k] = r.errorMessage }
        }
        var perEndpoint = [Int](repeating: 0, count: endpoints)
        for r in ok { perEndpoint[r.endpoint] += 1 }
        let withUsage = ok.filter { $0.usageCompletionTokens != nil }.count
        let source = withUsage == ok.count ? "usage" : withUsage == 0 ? "chunks" : "mixed"
        let promptUsage = ok.filter { $0.usagePromptTokens != nil }.count
        let inputs = ok.reduce(0) { $0 + ($1.usagePromptTokens ?? $1.promptTokensEstimate) }
        let outputs = ok.reduce(0) { $0 + $1.outputTokens }
        let ttft = ok.compactMap(\.ttft).map { $0 * 1e3 }
        let tpot = ok.compactMap(\.tpot).map { $0 * 1e3 }
        let itl = ok.flatMap(\.itl).map { $0 * 1e3 }
        let e2el = ok.map { $0.latency * 1e3 }
        var good: Int?
        if !slo.isEmpty {
            good = ok.filter { r in
                slo.allSatisfy { key, limit in
                    switch key {
                    case "ttft": (r.ttft.map { $0 * 1e3 } ?? .infinity) <= limit
                    case "tpot": (r.tpot.map { $0 * 1e3 } ?? 0) <= limit
                    case "e2el": r.latency * 1e3 <= limit
                    case "itl": (r.itl.max().map { $0 * 1e3 } ?? 0) <= limit
                    default: true
                    }
                }
            }.count
        }
        let d = max(duration, 1e-9)
        return ServingRun(concurrency: concurrency, requestRate: rate, durationSeconds: duration, completed: ok.count,
                          failed: records.count - ok.count - cancelled, cancelled: cancelled, errors: errors,
                          errorExamples: examples, completedPerEndpoint: perEndpoint, totalInputTokens: inputs,
                          totalOutputTokens: outputs, tokenCountSource: source,
                          inputTokenSource: promptUsage == ok.count ? "usage" : promptUsage == 0 ? "words" : "mixed",
                          requestThroughput: Double(ok.count) / d, outputTokenThroughput: Double(outputs) / d,
                          totalTokenThroughput: Double(inputs + outputs) / d, goodput: good.map { Double($0) / d },
                          goodRequests: good, ttftMilliseconds: Statistics.summary(ttft),
                          tpotMilliseconds: Statistics.summary(tpot), itlMilliseconds: Statistics.summary(itl),
                          e2elMilliseconds: Statistics.summary(e2el))
    }
}

/// Prompts of common English words, each one token in most BPE and SentencePiece vocabularies, so a
/// prompt of n words is about n tokens (the server's `usage.prompt_tokens` gives the exact count).
public enum RandomPrompt {
    static let words = """
        the of and to in is was for on that with as by at from his it an were are which this be or has had not \
        but first one their its new after who they have her she two been other when there all during into \
        school time may years more most only over city some world would where later up such used many can \
        state about national out known university united then made
        """.split(separator: " ").map(String.init)

    public static func prompts(count: Int, words n: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in (0..<max(1, n)).map { _ in words[rng.nextInt(below: words.count)] }.joined(separator: " ") }
    }
}
