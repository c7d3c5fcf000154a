import Foundation
import Testing
@testable import Weigh

struct ServerSentEventsTests {
    @Test func eventsSplitAcrossFeedsAndLineEndings() {
        var p = ServerSentEventParser()
        let text = "data: a\r\n\r\n: comment\nid: 3\ndata: b1\ndata:b2\n\ndata: c\r\rdata: tail"
        var events: [String] = []
        // Feed byte by byte: chunk boundaries fall everywhere, CRLF split included.
        for b in Array(text.utf8) { events += p.feed([b]) }
        #expect(events == ["a", "b1\nb2", "c"])
        #expect(p.finish() == "tail")
        #expect(p.finish() == nil)
    }

    @Test func chatCompletionAndUsageChunks() throws {
        #expect(try CompletionChunk.parse(#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#)
            == [.text("Hi", finishReason: nil)])
        #expect(try CompletionChunk.parse(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}"#)
            == [.text("", finishReason: nil)])
        #expect(try CompletionChunk.parse(#"{"choices":[{"index":0,"text":" x","finish_reason":"length"}]}"#)
            == [.text(" x", finishReason: "length")])
        #expect(try CompletionChunk.parse(#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":9}}"#)
            == [.usage(promptTokens: 5, completionTokens: 9)])
        #expect(try CompletionChunk.parse(" [DONE]") == [.done])
        #expect(try CompletionChunk.parse(#"{"error":{"message":"boom"}}"#) == [.error("boom")])
        #expect(throws: MalformedChunk.self) { try CompletionChunk.parse(#"{"choices": [{"delta": {"#) }
        #expect(throws: MalformedChunk.self) { try CompletionChunk.parse("hello") }
    }
}
