import Foundation

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
        guard let object = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any] else {
            throw MalformedChunk(data: String(data.prefix(120)))
        }
        if let error = object["error"] {
            if let e = error as? [String: Any], let m = e["message"] as? String { return [.error(m)] }
            return [.error("\(error)")]
        }
        var out: [CompletionChunk] = []
        if let choices = object["choices"] as? [[String: Any]], let first = choices.first {
            let finish = first["finish_reason"] as? String
            var text = ""
            if let delta = first["delta"] as? [String: Any] {
                text = (delta["content"] as? String ?? "") + (delta["reasoning_content"] as? String ?? "")
            } else if let t = first["text"] as? String {
                text = t
            }
            out.append(.text(text, finishReason: finish))
        }
        if let usage = object["usage"] as? [String: Any] {
            out.append(.usage(promptTokens: usage["prompt_tokens"] as? Int, completionTokens: usage["completion_tokens"] as? Int))
        }
        return out.isEmpty ? [.other] : out
    }
}

public struct MalformedChunk: Error, CustomStringConvertible {
    public var data: String
    public var description: String { "malformed stream chunk: \(data)" }
}
