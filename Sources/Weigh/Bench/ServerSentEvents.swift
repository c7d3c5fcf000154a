import Foundation
import OpenAIWire

/// Incremental parser of a `text/event-stream` body (the HTML Living Standard's event-stream
/// format): lines end in LF, CRLF or CR; `data:` lines of one event are joined with LF; a blank line
/// dispatches the event; lines starting with ':' are comments; other fields are ignored.
public struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var data: [String] = []
    private var hasData = false
    private var lastWasCR = false

    public init() {}

    /// Feeds bytes; returns the data of every event they complete, in order.
    public mutating func feed<S: Sequence>(_ bytes: S) -> [String] where S.Element == UInt8 {
        var events: [String] = []
        for b in bytes {
            if lastWasCR {
                lastWasCR = false
                if b == 0x0A { continue }  // CRLF
            }
            if b == 0x0A || b == 0x0D {
                lastWasCR = b == 0x0D
                if let e = endLine() { events.append(e) }
            } else {
                line.append(b)
            }
        }
        return events
    }

    /// At the end of the body: an event not closed by a blank line, if any (servers that omit the last one).
    public mutating func finish() -> String? {
        if !line.isEmpty { _ = endLine() }
        return endLine()
    }

    private mutating func endLine() -> String? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            guard hasData else { return nil }
            let event = data.joined(separator: "\n")
            data.removeAll()
            hasData = false
            return event
        }
        if line.first == UInt8(ascii: ":") { return nil }
        let text = String(decoding: line, as: UTF8.self)
        let field: Substring, value: Substring
        if let colon = text.firstIndex(of: ":") {
            field = text[..<colon]
            var v = text[text.index(after: colon)...]
            if v.first == " " { v = v.dropFirst() }
            value = v
        } else {
            field = text[...]
            value = ""
        }
        if field == "data" {
            data.append(String(value))
            hasData = true
        }
        return nil
    }
}

/// What one streamed chunk of an OpenAI-compatible response says.
public enum CompletionChunk: Equatable, Sendable {
    /// Generated text (chat `delta.content` / `delta.reasoning_content`, or completions `text`); may be empty.
    case text(String, finishReason: String?)
    /// The final `usage` object (stream_options.include_usage).
    case usage(promptTokens: Int?, completionTokens: Int?)
    /// An `error` object sent inside the stream.
    case error(String)
    /// `[DONE]`
    case done
    /// A chunk with neither choices nor usage (e.g. keep-alives some servers send).
    case other

    /// Reads one event's data. Throws on data that is neither `[DONE]` nor a JSON object.
    public static func parse(_ data: String) throws -> [CompletionChunk] {
        if data.trimmingCharacters(in: .whitespaces) == "[DONE]" { return [.done] }
        let json = Data(data.utf8), decoder = JSONDecoder()
        if let e = try? decoder.decode(ErrorResponse.self, from: json) { return [.error(e.error.message)] }
        // A chat chunk carries `delta`, a completions chunk `text`: read both shapes, one of them is empty.
        guard let chat = try? decoder.decode(ChatCompletionChunk.self, from: json),
              let completion = try? decoder.decode(Completion.self, from: json)
        else { throw MalformedChunk(data: String(data.prefix(120))) }
        var out: [CompletionChunk] = []
        if let delta = chat.choices.first?.delta, let choice = completion.choices.first {
            let text = (delta.content ?? "") + (delta.reasoningContent ?? "") + choice.text
            out.append(.text(text, finishReason: choice.finishReason))
        }
        if let usage = chat.usage {
            out.append(.usage(promptTokens: usage.promptTokens, completionTokens: usage.completionTokens))
        }
        return out.isEmpty ? [.other] : out
    }
}

public struct MalformedChunk: Error, CustomStringConvertible {
    public var data: String
    public var description: String { "malformed stream chunk: \(data)" }
}
