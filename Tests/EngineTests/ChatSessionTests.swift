import Engine
import Foundation
import Testing
import Tokenizers

/// Two-turn greedy chats against llama.cpp (Tests/Fixtures/chat/chat.json, scripts/oracle/chat_fixtures.py).
struct ChatSessionTests {
    struct Turn: Decodable { let user: String; let prompt_tokens: [Int32]; let tokens: [Int32]; let text: String; let finish_reason: String }
    struct Chat: Decodable { let max_tokens: Int; let turns: [Turn] }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func fixture(_ name: String) throws -> Chat {
        let data = try Data(contentsOf: Self.root.appendingPathComponent("Tests/Fixtures/chat/chat.json"))
        return try #require(try JSONDecoder().decode([String: Chat].self, from: data)[name])
    }

    /// SmolLM2-Instruct ends both turns with <|im_end|>; gemma3-270m (a base model) never writes
    /// <end_of_turn> on these prompts, in llama.cpp as here: both run to the token limit.
    @Test(.enabled(if: Needs.runs(embeddedModelPath("smollm2-135m") != nil && embeddedModelPath("gemma3-270m") != nil), "needs the embedded models in .models (make models)"),
          arguments: ["smollm2-135m", "gemma3-270m"]) func twoTurnsMatchLlamaCpp(_ name: String) throws {
        let path = try #require(embeddedModelPath(name))
        let chat = try fixture(name)
        let engine = try Engine(path: path, threads: 2, contextLength: 512)
        let session = ChatSession(engine: engine, formatter: try ChatFormatter(engine: engine))
        for (i, turn) in chat.turns.enumerated() {
            let reply = try session.respond(to: turn.user, maxTokens: chat.max_tokens)
            #expect(reply.timings.promptTokens == turn.prompt_tokens.count, "turn \(i)")
            #expect(reply.tokens == turn.tokens, "turn \(i)")
            #expect(reply.finishReason.rawValue == turn.finish_reason, "turn \(i)")
            #expect(reply.endedTurn == (turn.finish_reason == "stop"))
            #expect(reply.text == turn.text)
        }
        #expect(session.messages.map(\.role) == ["user", "assistant", "user", "assistant"])
        if name == "smollm2-135m" { #expect(chat.turns.allSatisfy { $0.finish_reason == "stop" }) }
    }

    @Test(.enabled(if: Needs.runs(embeddedModelPath("smollm2-135m") != nil), "needs the embedded models in .models (make models)")) func resetClearsHistoryButKeepsTheSystemMessage() throws {
        let path = try #require(embeddedModelPath("smollm2-135m"))
        let engine = try Engine(path: path, threads: 2, contextLength: 256)
        let session = ChatSession(engine: engine, formatter: try ChatFormatter(engine: engine), system: "Be brief.")
        let first = try session.respond(to: "Hi!", maxTokens: 8)
        #expect(session.messages.count == 3)
        session.reset()
        #expect(session.messages == [ChatMessage(role: "system", content: "Be brief.")])
        // After a reset the same message gets the same (greedy) answer as the first time.
        #expect(try session.respond(to: "Hi!", maxTokens: 8).tokens == first.tokens)
    }

    @Test(.enabled(if: Needs.runs(embeddedModelPath("smollm2-135m") != nil), "needs the embedded models in .models (make models)")) func stopCallbackInterruptsTheAnswer() throws {
        let path = try #require(embeddedModelPath("smollm2-135m"))
        let engine = try Engine(path: path, threads: 2, contextLength: 256)
        let session = ChatSession(engine: engine, formatter: try ChatFormatter(engine: engine))
        var seen = 0
        let reply = try session.respond(to: "Tell me a long story.", maxTokens: 32, shouldStop: { seen += 1; return seen >= 3 })
        #expect(reply.interrupted && reply.tokens.count == 3 && !reply.endedTurn)
        #expect(session.messages.last == ChatMessage(role: "assistant", content: reply.text))
    }

    /// The CLI's line mode: one answer per line, /reset, and a bad template file is exit code 1.
    @Test(.enabled(if: Needs.runs(embeddedModelPath("smollm2-135m") != nil), "needs the embedded models in .models (make models)")) func featherChatLineMode() throws {
        try #require(embeddedModelPath("smollm2-135m") != nil)
        let binary = Self.root.appendingPathComponent(".build/debug/feather").path
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build feather first (swift build)")
        func run(_ args: [String], input: String) throws -> (Int32, String, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = args
            p.currentDirectoryURL = Self.root
            let (stdin, stdout, stderr) = (Pipe(), Pipe(), Pipe())
            p.standardInput = stdin; p.standardOutput = stdout; p.standardError = stderr
            try p.run()
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
            let out = stdout.fileHandleForReading.readDataToEndOfFile(), err = stderr.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
        }
        let chat = try fixture("smollm2-135m")
        let (code, out, err) = try run(["chat", "smollm2-135m", "--temp", "0", "-t", "2", "-n", "48", "--verbose"],
                                       input: "Hi!\nWhat is 2+2?\n/reset\nHi!\n")
        #expect(code == 0)
        #expect(out == chat.turns.map(\.text).joined(separator: "\n") + "\n" + chat.turns[0].text + "\n")
        #expect(err.contains("the model's own template") && err.components(separatedBy: "finish: end of turn").count == 4)

        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("fw-bad-\(UUID().uuidString).jinja").path
        try "{% for %}".write(toFile: bad, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let (badCode, badOut, badErr) = try run(["chat", "smollm2-135m", "--chat-template", bad], input: "Hi!\n")
        #expect(badCode == 1 && badOut.isEmpty)
        #expect(badErr.hasPrefix("error: chat template (template from \(bad)) does not parse") && badErr.split(separator: "\n").count == 1)
    }
}
