import Engine
import Foundation
import Models
import Testing
import Tokenizers

/// The continuous-batching scheduler gives every request what `Engine.generate` gives it alone,
/// however many share the batch, and frees slots and queue places as it should.
struct SchedulerTests {
    func engine(context: Int = 64) throws -> Engine {
        var m = SyntheticModel(.llama)
        m.seed = 21
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fw-sched-\(UUID().uuidString).gguf").path
        try m.writer().write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try Engine(path: path, threads: 2, contextLength: context)
    }

    struct Collected { var tokens: [GeneratedToken] = []; var text = ""; var finish: FinishReason?; var prompt: [TokenLogProb?] = [] }

    func collect(_ stream: AsyncThrowingStream<GenerationEvent, Error>) async throws -> Collected {
        var c = Collected()
        for try await e in stream {
            switch e {
            case .prompt(_, let lp, _): c.prompt = lp
            case .token(let t): c.tokens.append(t); c.text += t.text
            case .endOfGeneration: break
            case .finished(let r, let tail, _): c.finish = r; c.text += tail
            }
        }
        return c
    }

    func request(_ i: Int, maxTokens: Int = 10) -> GenerationRequest {
        var r = GenerationRequest(prompt: [2] + (0..<(2 + i % 5)).map { Int32(260 + ($0 * 3 + i) % 8) }, maxTokens: maxTokens + i % 4,
                                  topLogprobs: 2, promptLogprobs: true)
        r.stopAtEndOfGeneration = false
        return r
    }

    @Test func concurrentRequestsEqualGenerateAlone() async throws {
        let e = try engine()
        let scheduler = Scheduler(engine: e, slots: 3, queueLimit: 16)
        scheduler.start()
        defer { scheduler.drain() }
        let requests = (0..<10).map { request($0) }
        let streams = try requests.map { try scheduler.submit($0) }
        let results = try await withThrowingTaskGroup(of: (Int, Collected).self) { group in
            for (i, s) in streams.enumerated() { group.addTask { (i, try await self.collect(s)) } }
            var all: [Int: Collected] = [:]
            for try await (i, c) in group { all[i] = c }
            return all
        }
        for (i, r) in requests.enumerated() {
            let alone = try e.generate(r)
            let got = try #require(results[i])
            #expect(got.tokens == alone.tokens, "request \(i)")
            #expect(got.text == alone.text)
            #expect(got.finish == alone.finishReason)
            #expect(got.prompt == alone.promptLogprobs)
        }
        let stats = scheduler.currentStats
        #expect(stats.decodeRows > stats.decodeSteps)  // steps were shared
        #expect(stats.active == 0 && stats.queued == 0)
    }

    @Test func zeroMaxTokensScoresThePromptOnly() async throws {
        let e = try engine()
        let scheduler = Scheduler(engine: e, slots: 1, queueLimit: 1)
        scheduler.start()
        defer { scheduler.drain() }
        let r = request(2, maxTokens: 0)
        var zero = r
        zero.maxTokens = 0
        let got = try await collect(try scheduler.submit(zero))
        #expect(got.tokens.isEmpty && got.finish == .length)
        #expect(got.prompt == (try e.generate(r)).promptLogprobs)
    }

    @Test func fullQueueAndLongPromptAreErrors() async throws {
        let e = try engine(context: 16)
        let scheduler = Scheduler(engine: e, slots: 1, queueLimit: 1)
        // Not started: nothing leaves the queue, so the third request finds it full (while the
        // first two are still awaited: a dropped stream gives its place back, below).
        let first = try scheduler.submit(request(0))
        let second = try scheduler.submit(request(1))
        #expect(throws: SchedulerError.queueFull(limit: 1)) { _ = try scheduler.submit(self.request(2)) }
        withExtendedLifetime((first, second)) {}
        #expect(throws: SchedulerError.promptTooLong(tokens: 17, context: 16)) {
            _ = try scheduler.submit(GenerationRequest(prompt: [Int32](repeating: 5, count: 17)))
        }
    }

    @Test func cancelledRequestFreesItsPlace() async throws {
        let e = try engine(context: 512)
        let scheduler = Scheduler(engine: e, slots: 1, queueLimit: 0)
        // The only place is taken; dropping the stream gives it back before anything ran.
        var long = request(0)
        long.maxTokens = 400
        var first: AsyncThrowingStream<GenerationEvent, Error>? = try scheduler.submit(long)
        #expect(throws: SchedulerError.queueFull(limit: 0)) { _ = try scheduler.submit(self.request(1)) }
        first = nil
        _ = first
        // The queue gives the place back at once, before the loop even runs.
        var queued: AsyncThrowingStream<GenerationEvent, Error>? = try scheduler.submit(request(1))
        #expect(scheduler.currentStats.queued == 1)
        queued = nil
        _ = queued
        #expect(scheduler.currentStats.queued == 0)
        scheduler.start()
        defer { scheduler.drain() }
        var next: AsyncThrowingStream<GenerationEvent, Error>?
        for _ in 0..<500 where next == nil {
            next = try? scheduler.submit(request(1))
            if next == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let got = try await collect(try #require(next))
        #expect(got.tokens.count == request(1).maxTokens)
        // The cancelled request never ran: every token generated is the second request's.
        #expect(scheduler.currentStats.generatedTokens == request(1).maxTokens)
    }
}
