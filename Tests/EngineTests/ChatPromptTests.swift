import Engine
import Foundation
import Testing
import Tokenizers

/// Where the embedded models live: `$FEATHER_MODELS`, else `<repo>/.models`.
func embeddedModelPath(_ name: String) -> String? {
    let dir = ProcessInfo.processInfo.environment["FEATHER_MODELS"]
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".models").path
    let path = "\(dir)/\(name).gguf"
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

/// Under `make test` (FEATHER_REQUIRE_FIXTURES=1) a test never skips for a missing model, data file
/// or fixture: it runs and fails on the missing thing. A plain `swift test` skips it, saying why.
enum Needs {
    static let required = ProcessInfo.processInfo.environment["FEATHER_REQUIRE_FIXTURES"] == "1"
    /// For `.enabled(if:)`: true when `present`, or when missing things must fail.
    static func runs(_ present: Bool) -> Bool { present || required }
}

struct ChatPromptTests {
    @Test(.enabled(if: Needs.runs(embeddedModelPath("gemma3-270m") != nil), "needs the embedded models in .models (make models)")) func gemmaWithoutTemplateFallsBackToTurnMarkers() throws {
        let engine = try Engine(path: try #require(embeddedModelPath("gemma3-270m")), threads: 1, contextLength: 64)
        #expect(engine.chatTemplate == nil)
        let chat = try ChatFormatter(engine: engine)
        #expect(chat.origin == .builtIn("gemma"))
        let messages = [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: " Hi ")]
        #expect(try chat.render(messages) == "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n")
        let tokens = try chat.tokens(messages)
        let t = engine.tokenizer
        #expect(tokens.first == t.bos && tokens.filter { $0 == t.bos }.count == 1)  // the template's BOS is not doubled
        #expect(tokens.contains(t.id(of: "<start_of_turn>")!) && tokens.contains(t.id(of: "<end_of_turn>")!))
        #expect(t.isEndOfGeneration(t.id(of: "<end_of_turn>")!))
    }

    @Test(.enabled(if: Needs.runs(embeddedModelPath("smollm2-135m") != nil), "needs the embedded models in .models (make models)")) func smolLMUsesItsOwnTemplate() throws {
        let engine = try Engine(path: try #require(embeddedModelPath("smollm2-135m")), threads: 1, contextLength: 64)
        let chat = try ChatFormatter(engine: engine)
        #expect(chat.origin == .model)
        let text = try chat.render([ChatMessage(role: "user", content: "Hi")])
        #expect(text.hasSuffix("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"))
        let t = engine.tokenizer
        let tokens = try chat.tokens([ChatMessage(role: "user", content: "Hi")])
        #expect(tokens.contains(t.id(of: "<|im_start|>")!) && t.isEndOfGeneration(t.id(of: "<|im_end|>")!))
    }

    @Test func missingTemplateFileIsAClearError() throws {
        let engine = try EngineTests().engine()
        #expect(throws: ChatError.self) { try ChatFormatter(engine: engine, templateFile: "/nonexistent/t.jinja") }
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("fw-bad-\(UUID().uuidString).jinja").path
        try "{% if %}".write(toFile: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        #expect(throws: ChatError.self) { try ChatFormatter(engine: engine, templateFile: bad) }
    }

    /// 10^11 list comparisons if nothing stops it (Templates' render budget ends it within 2 s).
    static let hostile = "{% set big = range(100000) | list %}{% for i in range(1000) %}{% for j in range(1000) %}"
        + "{% if -1 in big %}{% endif %}{% endfor %}{% endfor %}"

    @Test func aHostileTemplateEndsWithTheBudgetError() async throws {
        let chat = try ChatFormatter(source: Self.hostile, origin: .file("hostile.jinja"), tokenizer: try EngineTests().engine().tokenizer)
        do {
            _ = try await chat.tokensOnOwnThread([ChatMessage(role: "user", content: "Hi")])
            Issue.record("the hostile template rendered")
        } catch let error as ChatError {
            #expect("\(error)".contains("template exceeded its render budget"), "\(error)")
        }
        // The render itself, timed on this thread: the awaiting task above may also wait for a
        // cooperative pool that other tests keep busy (seen: 96 s under the full suite on 2 cores).
        let start = ContinuousClock.now
        #expect(throws: ChatError.self) { _ = try chat.tokens([ChatMessage(role: "user", content: "Hi")]) }
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test func cancellingTheCallerStopsTheRenderOnItsThread() async throws {
        let chat = try ChatFormatter(source: Self.hostile, origin: .file("hostile.jinja"), tokenizer: try EngineTests().engine().tokenizer)
        let render = Task { try await chat.tokensOnOwnThread([ChatMessage(role: "user", content: "Hi")]) }
        // Cancelled from a Dispatch thread, which a cooperative pool busy with other tests cannot delay.
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { render.cancel() }
        // Not the budget error that would end the render after 2 s: the cancellation reached the thread.
        await #expect(throws: CancellationError.self) { try await render.value }
    }
}
