import Foundation
import Models
import Tokenizers

/// What a scheduled generation reports, in order: `.prompt` once after the prompt is evaluated,
/// then `.token` per generated token, then `.finished`.
public enum GenerationEvent: Sendable {
    /// The prompt is in the cache. With `promptLogprobs`: for each prompt token (nil for the first)
    /// its logprob, and the request's `topLogprobs` most likely tokens at its position.
    case prompt(tokens: Int, logprobs: [TokenLogProb?], top: [[TokenLogProb]])
    case token(GeneratedToken)
    /// The end-of-generation token that ended it (not part of the text), with its logprob: OpenAI's
    /// legacy completions list it among the logprobs, and lm-eval's `local-completions` reads a
    /// prompt's scores as `token_logprobs[ctxlen:-1]` of `max_tokens: 1` answers, counting on it.
    case endOfGeneration(GeneratedToken)
    /// `tail`: text held back by the detokenizer (an unfinished UTF-8 character), now flushed.
    case finished(FinishReason, tail: String, timings: GenerationTimings)
}

public enum SchedulerError: Error, CustomStringConvertible, Equatable {
    case queueFull(limit: Int)
    case shuttingDown
    case promptTooLong(tokens: Int, context: Int)

    public var description: String {
        switch self {
        case .queueFull(let n): "the server is busy: \(n) requests are already waiting"
        case .shuttingDown: "the server is shutting down"
        case .promptTooLong(let t, let c): "the prompt has \(t) tokens but the context holds \(c)"
        }
    }
}

/// Continuous batching over one engine: up to `slots` sequences decode together, one batched forward
/// pass per step (Models' `decode`). New requests wait in a bounded queue, are prefilled between
/// steps and join the next step; a finished or cancelled request frees its slot at once. Each slot's
/// KV cache and the batch's scratch are allocated once, when the scheduler starts.
public final class Scheduler: @unchecked Sendable {
    public let engine: Engine
    public let slots: Int
    public let queueLimit: Int

    /// Counters for /metrics, read under the lock.
    public struct Stats: Sendable {
        public var queued = 0
        public var active = 0
        public var promptTokens = 0
        public var generatedTokens = 0
        public var decodeSteps = 0
        /// Sum over steps of the sequences decoded (mean batch size = this / decodeSteps).
        public var decodeRows = 0
    }

    private let lock = NSCondition()
    private var pending: [Job] = []
    private var accepting = true
    private var stopping = false
    private var stats = Stats()
    /// Requests accepted and not yet done (queued or decoding): at most slots + queueLimit.
    private var inFlight = 0
    private var thread: Thread?
    private let finishedThread = DispatchSemaphore(value: 0)

    /// One request from submission to its last event.
    final class Job: @unchecked Sendable {
        let request: GenerationRequest
        let continuation: AsyncThrowingStream<GenerationEvent, Error>.Continuation
        private let lock = NSLock()
        private var _cancelled = false
        var cancelled: Bool { lock.withLock { _cancelled } }
        func cancel() { lock.withLock { _cancelled = true } }
        init(request: GenerationRequest, continuation: AsyncThrowingStream<GenerationEvent, Error>.Continuation) {
            self.request = request
            self.continuation = continuation
        }
    }

    /// A sequence slot: its runner, and the request it serves with that request's generation.
    /// Owned by the loop thread once started (hence unchecked).
    final class Slot: @unchecked Sendable {
        let runner: SequenceRunner
        var job: Job?
        var generation: Generation?
        var state: SequenceState { runner.state }
        init(runner: SequenceRunner) { self.runner = runner }
    }

    public init(engine: Engine, slots: Int, queueLimit: Int) {
        self.engine = engine
        self.slots = max(1, slots)
        self.queueLimit = max(0, queueLimit)
    }

    /// Starts the loop thread; allocates every slot's cache first.
    public func start() {
        let slotStates = (0..<slots).map { _ in Slot(runner: engine.makeRunner()) }
        let workspace = engine.model.makeWorkspace(rows: slots, contextLength: engine.contextLength)
        let t = Thread { [self] in
            run(slots: slotStates, workspace: workspace)
            finishedThread.signal()
        }
        t.name = "feather-scheduler"
        t.stackSize = 8 << 20
        thread = t
        t.start()
    }

    /// Queues a request. The stream ends after `.finished`, or with an error; ending the stream
    /// early (the consumer stops iterating or is cancelled) cancels the request and frees its slot.
    public func submit(_ request: GenerationRequest) throws(SchedulerError) -> AsyncThrowingStream<GenerationEvent, Error> {
        if request.prompt.count > engine.contextLength {
            throw .promptTooLong(tokens: request.prompt.count, context: engine.contextLength)
        }
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, Error>.makeStream()
        let job = Job(request: request, continuation: continuation)
        lock.lock()
        defer { lock.unlock() }
        guard accepting else { throw .shuttingDown }
        guard inFlight < slots + queueLimit else { throw .queueFull(limit: queueLimit) }
        inFlight += 1
        continuation.onTermination = { [weak self] reason in
            if case .finished = reason { return }
            job.cancel()
            self?.withdraw(job)
        }
        pending.append(job)
        stats.queued = pending.count
        lock.signal()
        return stream
    }

    public var currentStats: Stats { lock.withLock { stats } }

    /// Stops taking requests, lets the running and queued ones finish, then ends the loop.
    public func drain() {
        lock.withLock {
            accepting = false
            stopping = true
            lock.signal()
        }
        if thread != nil { finishedThread.wait() }
        thread = nil
    }

    /// A cancelled request still in the queue leaves it at once (its place is free for the next
    /// request, and it is never prefilled); one already taken by the loop is dropped there.
    private func withdraw(_ job: Job) {
        lock.withLock {
            if let i = pending.firstIndex(where: { $0 === job }) {
                pending.remove(at: i)
                inFlight -= 1
                stats.queued = pending.count
                job.continuation.finish()
            }
            lock.signal()
        }
    }

    // MARK: The loop

    private func run(slots: [Slot], workspace: Workspace) {
        var active: [Slot] = []
        var tokens: [TokenID] = []
        var states: [SequenceState] = []
        active.reserveCapacity(slots.count)
        tokens.reserveCapacity(slots.count)
        states.reserveCapacity(slots.count)
        var free = slots
        while true {
            lock.lock()
            while pending.isEmpty && active.isEmpty && !stopping { lock.wait() }
            if pending.isEmpty && active.isEmpty && stopping {
                lock.unlock()
                return
            }
            var joining: [Job] = []
            while !pending.isEmpty && joining.count < free.count { joining.append(pending.removeFirst()) }
            stats.queued = pending.count
            lock.unlock()

            // New requests: prefill each into a free slot.
            for job in joining {
                if job.cancelled {
                    job.continuation.finish()
                    lock.withLock { inFlight -= 1 }
                    continue
                }
                let slot = free.removeLast()
                if prefill(job, into: slot) { active.append(slot) } else { release(slot, into: &free) }
            }
            // Cancelled requests leave before the step.
            active.removeAll { slot in
                guard slot.job?.cancelled ?? true else { return false }
                slot.job?.continuation.finish()
                release(slot, into: &free)
                return true
            }
            lock.withLock { stats.active = active.count }
            guard !active.isEmpty else { continue }

            // One batched step: every active sequence appends the token chosen last step.
            tokens.removeAll(keepingCapacity: true)
            states.removeAll(keepingCapacity: true)
            for slot in active {
                tokens.append(slot.generation?.next ?? 0)
                states.append(slot.state)
            }
            do {
                try engine.model.decode(tokens, states: states, workspace: workspace) { i, logits in
                    active[i].generation?.choose(logits)
                }
            } catch {
                for slot in active { slot.job?.continuation.finish(throwing: error); release(slot, into: &free) }
                active.removeAll(keepingCapacity: true)
                lock.withLock { stats.active = 0 }
                continue
            }
            lock.withLock {
                stats.decodeSteps += 1
                stats.decodeRows += active.count
            }
            var i = 0
            while i < active.count {
                if emit(active[i]) { i += 1 } else {
                    release(active[i], into: &free)
                    active.remove(at: i)
                }
            }
            lock.withLock { stats.active = active.count }
        }
    }

    private func release(_ slot: Slot, into free: inout [Slot]) {
        if slot.job != nil { lock.withLock { inFlight -= 1 } }
        slot.job = nil
        slot.generation = nil
        slot.state.reset()
        free.append(slot)
    }

    /// Evaluates the prompt and chooses the first token; false when the request is already done.
    private func prefill(_ job: Job, into slot: Slot) -> Bool {
        let r = job.request
        slot.job = job
        slot.generation = Generation(r, tokenizer: engine.tokenizer)
        slot.state.reset()
        guard !r.prompt.isEmpty else {
            job.continuation.finish(throwing: EngineError.emptyPrompt)
            return false
        }
        let prompt: (logprobs: [TokenLogProb?], top: [[TokenLogProb]])
        do {
            prompt = try slot.generation!.prefill(slot.runner, withTop: true)
        } catch {
            job.continuation.finish(throwing: error)
            return false
        }
        lock.withLock { stats.promptTokens += r.prompt.count }
        if case .terminated = job.continuation.yield(.prompt(tokens: r.prompt.count, logprobs: prompt.logprobs, top: prompt.top)) { return false }
        if r.maxTokens <= 0 {
            finish(slot, .length)
            return false
        }
        return emit(slot)
    }

    /// Hands the chosen token to the consumer; false when the request is done (its slot is freed).
    private func emit(_ slot: Slot) -> Bool {
        guard let job = slot.job, slot.generation != nil else { return false }
        guard let token = slot.generation!.emit() else {
            if let end = slot.generation!.endToken { job.continuation.yield(.endOfGeneration(end)) }
            finish(slot, .stop)
            return false
        }
        lock.withLock { stats.generatedTokens += 1 }
        if job.cancelled { job.continuation.finish(); return false }
        if case .terminated = job.continuation.yield(.token(token)) { return false }
        if slot.generation!.isComplete(slot.state) {
            finish(slot, .length)
            return false
        }
        return true
    }

    private func finish(_ slot: Slot, _ reason: FinishReason) {
        guard let job = slot.job, slot.generation != nil else { return }
        let (tail, timings) = slot.generation!.finish()
        job.continuation.yield(.finished(reason, tail: tail, timings: timings))
        job.continuation.finish()
    }
}
