import Engine
import Foundation
import Testing
@testable import Backends

/// OpenAIBackend against a fake server whose logprobs are known in closed form.
@Suite(.serialized) struct OpenAIBackendTests {
    /// The fake server's logprob of character c.
    static func lp(_ c: Character) -> Double { -Double(Int(c.unicodeScalars.first!.value) % 7 + 1) / 10 }

    @Test func loglikelihoodSumsTheContinuationTokens() async throws {
        let server = try FakeServer()
        let backend = OpenAIBackend(endpoints: [server.url], model: "fake")
        let requests = [LoglikelihoodRequest(context: "Question?\nAnswer:", continuation: " B"),
                        LoglikelihoodRequest(context: "Say it: ", continuation: "yes")]
        let r = try await backend.loglikelihoods(requests)
        #expect(abs(r[0].logprob - (Self.lp(" ") + Self.lp("B"))) < 1e-9)
        #expect(r[0].tokens == 2)
        #expect(r[0].isGreedy == false)  // "B" is not lowercase: the fake's top choice was "~"
        // The context's trailing space moves to the continuation, as lm-eval's _encode_pair.
        #expect(abs(r[1].logprob - " yes".reduce(0) { $0 + Self.lp($1) }) < 1e-9)
        #expect(r[1].tokens == 4)
    }

    @Test func endpointWithoutPromptLogprobsStopsWithAClearError() async throws {
        let server = try FakeServer(["--no-echo"])
        let backend = OpenAIBackend(endpoints: [server.url], model: "fake")
        await #expect(throws: BackendError.self) {
            _ = try await backend.loglikelihoods([LoglikelihoodRequest(context: "a", continuation: " b")])
        }
        do {
            _ = try await backend.loglikelihoods([LoglikelihoodRequest(context: "a", continuation: " b")])
        } catch let e as BackendError {
            guard case .noPromptLogprobs = e else { Issue.record("wrong error \(e)"); return }
            #expect("\(e)".contains("does not return prompt logprobs"))
        }
    }

    @Test func generationCutsAtStopSequences() async throws {
        let server = try FakeServer()
        let backend = OpenAIBackend(endpoints: [server.url], model: "fake")
        let out = try await backend.generate([
            GenerationRequestSpec(input: .text("first\nabc"), stop: ["Question:"], maxTokens: 16),
            GenerationRequestSpec(input: .chat([ChatMessage(role: "user", content: "hi there")]), stop: ["there"], maxTokens: 16),
        ])
        #expect(out == ["ECHO:cba\n", "CHAT:hi "])
    }

    @Test func unreachableEndpointIsAClearError() async throws {
        let backend = OpenAIBackend(endpoints: ["http://127.0.0.1:9"], model: "fake", timeoutSeconds: 5)
        await #expect(throws: BackendError.self) {
            _ = try await backend.generate([GenerationRequestSpec(input: .text("x"), maxTokens: 1)])
        }
    }

    @Test func severalEndpointsShareTheWork() async throws {
        let a = try FakeServer(["--delay", "0.05"]), b = try FakeServer(["--delay", "0.05"])
        let backend = OpenAIBackend(endpoints: [a.url, b.url + "/v1/"], model: "fake", concurrency: 3)
        #expect(backend.parallelism == 6)
        // Six callers at once, as the eval runner keeps `parallelism` items in flight.
        try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<12 {
                group.addTask { try await backend.generate([GenerationRequestSpec(input: .text("p\(i)"), maxTokens: 4)])[0] }
            }
            for try await _ in group {}
        }
        let sa = try a.stats(), sb = try b.stats()
        #expect(sa["requests"]! + sb["requests"]! == 12)
        #expect(sa["requests"]! == 6 && sb["requests"]! == 6)
        #expect(sa["max_in_flight"]! > 1)
    }
}
