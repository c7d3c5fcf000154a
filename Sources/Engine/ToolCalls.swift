import Foundation
import Templates

// Tool calls: the function calls a model writes in its reply, in the format its chat template
// teaches it, read back into OpenAI's `tool_calls`. The format (family) is recognised from the
// template text, as llama.cpp's common/chat.cpp does: Hermes/Qwen `<tool_call>` blocks, Llama 3.x
// JSON replies, Mistral `[TOOL_CALLS]`. A reply that does not parse as calls is plain content.

/// One function call in a conversation (OpenAI's `tool_calls` entry).
public struct ToolCall: Sendable, Codable, Equatable, Hashable {
    public var id: String
    public var name: String
    /// The arguments as JSON text, as OpenAI sends and returns them.
    public var arguments: String

    public init(id: String, name: String, arguments: String) {
        (self.id, self.name, self.arguments) = (id, name, arguments)
    }

    /// `call_` and 24 random letters and digits, as OpenAI's ids look.
    public static func newID() -> String { "call_" + randomAlphanumerics(24) }

    static func randomAlphanumerics(_ n: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<n).map { _ in alphabet.randomElement()! })
    }
}

/// A function the model may call: OpenAI's `tools[].function`.
public struct ToolFunction: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// JSON Schema of the arguments object (nil: any object).
    public var parameters: Value?

    public init(name: String, description: String? = nil, parameters: Value? = nil) {
        (self.name, self.description, self.parameters) = (name, description, parameters)
    }
}

/// How a template family writes tool calls.
public enum ToolCallFamily: String, Sendable, CaseIterable {
    /// Hermes 2 Pro / Qwen 2.5+: `<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>`, one block per call.
    case hermes
    /// Llama 3.x: the whole reply is `{"name": ..., "parameters": {...}}`, optionally after `<|python_tag|>`.
    case llama3
    /// Mistral Nemo / Small: `[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]`.
    case mistral
    /// Newer Mistral templates (Magistral, Devstral): `[TOOL_CALLS]name[ARGS]{...}`, repeated per call.
    case mistralArgs

    /// The family whose calls `templateSource` teaches, nil when it teaches none this reads back.
    /// Checked in llama.cpp's order (a Hermes-style template built on Llama 3 is Hermes).
    public static func detect(templateSource s: String) -> ToolCallFamily? {
        if s.contains("<tool_call>") { return .hermes }
        if s.contains("<|start_header_id|>ipython<|end_header_id|>") || (s.contains("<|start_header_id|>") && s.contains("<|python_tag|>")) {
            return .llama3
        }
        if s.contains("[TOOL_CALLS]") { return s.contains("[ARGS]") ? .mistralArgs : .mistral }
        return nil
    }

    /// Whether a template reads the `tools` variable at all (a template that does not would drop them silently).
    public static func templateTakesTools(_ source: String) -> Bool {
        var rest = Substring(source)
        while let r = rest.range(of: "tools") {
            let before = rest[..<r.lowerBound].last, after = rest[r.upperBound...].first
            func isWord(_ c: Character?) -> Bool { c.map { $0.isLetter || $0.isNumber || $0 == "_" } ?? false }
            if !isWord(before) && !isWord(after) { return true }
            rest = rest[r.upperBound...]
        }
        return false
    }

    /// The texts that start a call in a reply (Llama 3's bare JSON reply is recognised separately).
    var markers: [String] {
        switch self {
        case .hermes: ["<tool_call>"]
        case .llama3: ["<|python_tag|>"]
        case .mistral, .mistralArgs: ["[TOOL_CALLS]"]
        }
    }

    /// A new call id. Mistral's templates refuse ids that are not 9 letters and digits.
    public func newCallID() -> String {
        switch self {
        case .mistral, .mistralArgs: ToolCall.randomAlphanumerics(9)
        case .hermes, .llama3: ToolCall.newID()
        }
    }
}

// MARK: Constrained decoding seam

/// What a reply that calls a tool must be: `prefix` literally, then JSON text valid under
/// `schema` (JSON Schema), then `suffix` literally. A grammar engine can force a call with it
/// (tool_choice "required" or a named function).
public struct ToolCallConstraint: Sendable, Equatable {
    public var prefix: String
    public var schema: Value
    public var suffix: String

    public init(prefix: String, schema: Value, suffix: String) { (self.prefix, self.schema, self.suffix) = (prefix, schema, suffix) }
}

extension ToolCallFamily {
    /// The shapes of a valid call to one of `tools`, as alternatives: a reply matching any one of them
    /// is one valid call. Families that name the function inside the JSON give one alternative whose
    /// schema is an `anyOf` over the tools (`name` fixed to the tool's name, the arguments under the
    /// tool's `parameters`); `[TOOL_CALLS]name[ARGS]` gives one alternative per tool.
    public func callConstraints(tools: [ToolFunction]) -> [ToolCallConstraint] {
        let argumentsKey = self == .llama3 ? "parameters" : "arguments"
        func parameters(_ t: ToolFunction) -> Value { t.parameters ?? ["type": "object"] }
        func callSchema(_ t: ToolFunction) -> Value {
            ["type": "object",
             "properties": .dict(OrderedDict([("name", ["const": .string(t.name)]), (argumentsKey, parameters(t))])),
             "required": ["name", .string(argumentsKey)]]
        }
        let oneOfTools: Value = tools.count == 1 ? callSchema(tools[0]) : ["anyOf": .array(tools.map(callSchema))]
        switch self {
        case .hermes:
            return [ToolCallConstraint(prefix: "<tool_call>\n", schema: oneOfTools, suffix: "\n</tool_call>")]
        case .llama3:
            return [ToolCallConstraint(prefix: "", schema: oneOfTools, suffix: "")]
        case .mistral:
            return [ToolCallConstraint(prefix: "[TOOL_CALLS]", schema: ["type": "array", "items": oneOfTools, "minItems": 1, "maxItems": 1], suffix: "")]
        case .mistralArgs:
            return tools.map { ToolCallConstraint(prefix: "[TOOL_CALLS]\($0.name)[ARGS]", schema: parameters($0), suffix: "") }
        }
    }
}

// MARK: Parsing

/// Reads tool calls out of a finished reply. Pure: malformed calls leave the reply as plain content.
public struct ToolCallParser: Sendable {
    public let family: ToolCallFamily
    let makeID: @Sendable () -> String

    public init(family: ToolCallFamily, makeID: (@Sendable () -> String)? = nil) {
        self.family = family
        self.makeID = makeID ?? { family.newCallID() }
    }

    /// The reply's content and calls; `calls` is empty (and `content` the whole reply) when it
    /// makes no call or a call does not parse.
    public func parse(_ reply: String) -> (content: String, calls: [ToolCall]) {
        let parsed: (String, [ToolCall])?
        switch family {
        case .hermes: parsed = parseHermes(reply)
        case .llama3: parsed = parseLlama3(reply)
        case .mistral, .mistralArgs: parsed = parseMistral(reply)
        }
        guard let parsed, !parsed.1.isEmpty else { return (reply, []) }
        return parsed
    }

    /// Whether `reply` is where a call starts (a marker, or Llama 3's JSON object reply).
    func startsCall(_ text: Substring) -> Bool {
        if family.markers.contains(where: { text.hasPrefix($0) }) { return true }
        return family == .llama3 && text.first == "{"
    }

    // `<tool_call> {json} </tool_call>` blocks; the text around them is content. The last block may
    // lack its closing tag when generation ended there.
    func parseHermes(_ reply: String) -> (String, [ToolCall])? {
        guard let first = reply.range(of: "<tool_call>") else { return nil }
        var content = String(reply[..<first.lowerBound])
        var calls: [ToolCall] = []
        var rest = reply[first.lowerBound...]
        while let open = rest.range(of: "<tool_call>") {
            content += rest[..<open.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
            let body = rest[open.upperBound...]
            let close = body.range(of: "</tool_call>")
            let inner = close.map { body[..<$0.lowerBound] } ?? body
            guard let call = call(fromObject: inner, argumentsKeys: ["arguments", "parameters"]) else { return nil }
            calls.append(call)
            guard let close else { rest = body[body.endIndex...]; break }
            rest = body[close.upperBound...]
        }
        content += rest.trimmingCharacters(in: .whitespacesAndNewlines)
        return (content.trimmingCharacters(in: .whitespacesAndNewlines), calls)
    }

    // The whole reply (trimmed; after <|python_tag|> when it has one) is one call object, or several
    // separated by `;` (as Llama 3.2 sometimes writes them).
    func parseLlama3(_ reply: String) -> (String, [ToolCall])? {
        var text = Substring(reply.trimmingCharacters(in: .whitespacesAndNewlines)), content = ""
        if let tag = text.range(of: "<|python_tag|>") {
            content = text[..<tag.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
            text = text[tag.upperBound...].drop(while: \.isWhitespace)
        }
        var calls: [ToolCall] = []
        while !text.isEmpty {
            guard text.first == "{", let end = JSONScan.endOfValue(text) else { return nil }
            guard let call = call(fromObject: text[..<end], argumentsKeys: ["parameters", "arguments"]) else { return nil }
            calls.append(call)
            text = text[end...].drop { $0.isWhitespace || $0 == ";" }
        }
        return (content, calls)
    }

    // `[TOOL_CALLS]` then a JSON list of call objects, or `name[ARGS]{json}` (each call with its own marker).
    func parseMistral(_ reply: String) -> (String, [ToolCall])? {
        guard let first = reply.range(of: "[TOOL_CALLS]") else { return nil }
        let content = reply[..<first.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        var calls: [ToolCall] = []
        var rest = reply[first.upperBound...]
        while true {
            rest = rest.drop(while: \.isWhitespace)
            if rest.isEmpty { break }
            if rest.hasPrefix("[TOOL_CALLS]") { rest = rest.dropFirst("[TOOL_CALLS]".count); continue }
            if rest.first == "[" {
                guard let end = JSONScan.endOfValue(rest), case .array(let items)? = try? Value(json: String(rest[..<end])) else { return nil }
                for item in items {
                    guard let call = call(from: item, argumentsKeys: ["arguments", "parameters"]) else { return nil }
                    calls.append(call)
                }
                rest = rest[end...]
            } else if let args = rest.range(of: "[ARGS]") {
                let name = rest[..<args.lowerBound].trimmingCharacters(in: .whitespaces)
                let body = rest[args.upperBound...].drop(while: \.isWhitespace)
                guard ToolCallParser.isValidName(name), body.first == "{", let end = JSONScan.endOfValue(body),
                      let arguments = try? Value(json: String(body[..<end])), arguments.isObject,
                      let text = try? arguments.jsonText() else { return nil }
                calls.append(ToolCall(id: makeID(), name: name, arguments: text))
                rest = body[end...]
            } else {
                return nil
            }
        }
        return (content, calls)
    }

    func call(fromObject text: Substring, argumentsKeys: [String]) -> ToolCall? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.first == "{", let end = JSONScan.endOfValue(Substring(trimmed)), end == trimmed.endIndex,
              let value = try? Value(json: trimmed) else { return nil }
        return call(from: value, argumentsKeys: argumentsKeys)
    }

    /// A call object: `name` and the arguments (an object, or a string of JSON text), `id` kept when given.
    func call(from value: Value, argumentsKeys: [String]) -> ToolCall? {
        var object = value
        if let function = value["function"], function.isObject { object = function }  // {"type": "function", "function": {...}}
        guard let name = object["name"]?.stringValue, Self.isValidName(name) else { return nil }
        let arguments: String
        switch argumentsKeys.lazy.compactMap({ object[$0] }).first {
        case nil: arguments = "{}"
        case .string(let s)?:
            guard let parsed = try? Value(json: s), parsed.isObject else { return nil }
            arguments = s
        case let v? where v.isObject:
            guard let text = try? v.jsonText() else { return nil }
            arguments = text
        default: return nil
        }
        let id = value["id"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? makeID()
        return ToolCall(id: id, name: name, arguments: arguments)
    }

    /// OpenAI's rule for function names: `^[a-zA-Z0-9_-]{1,64}$`.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.unicodeScalars.count)
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-") }
    }
}

/// Finds where a JSON value that starts a text ends, without parsing it (strings and nesting only).
enum JSONScan {
    /// The index just past the object or list that starts `text`, nil when it does not close.
    static func endOfValue(_ text: Substring) -> Substring.Index? {
        var depth = 0, inString = false, escaped = false
        var i = text.startIndex
        while i < text.endIndex {
            let c = text.unicodeScalars[i]
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
            } else {
                switch c {
                case "\"": inString = true
                case "{", "[": depth += 1
                case "}", "]":
                    depth -= 1
                    if depth == 0 { return text.unicodeScalars.index(after: i) }
                    if depth < 0 { return nil }
                default: if depth == 0 { return nil }
                }
            }
            i = text.unicodeScalars.index(after: i)
        }
        return nil
    }
}

// MARK: Streaming

/// Reads tool calls out of a reply as it streams: text goes out as content until a call starts
/// (text that could be the start of a marker is held back, as `StopMatcher` holds stop sequences),
/// then the call is collected. A Hermes block goes out as soon as its `</tool_call>` arrives;
/// the other families' calls are parsed when the reply ends (their JSON is the rest of the reply).
/// A collected part that does not parse goes out as content at the end; whitespace between and
/// after calls is dropped.
public struct ToolCallStream: Sendable {
    public let parser: ToolCallParser
    private var held = ""
    private var collecting = false
    /// Whether anything other than whitespace went out yet (Llama 3's JSON reply must be the whole reply).
    private var sentText = false
    private var madeCalls = false

    public init(parser: ToolCallParser) { self.parser = parser }

    /// Content safe to send after `piece` arrives, and the calls completed by it.
    public mutating func feed(_ piece: String) -> (content: String, calls: [ToolCall]) {
        held += piece
        var content = "", calls: [ToolCall] = []
        while true {
            if collecting {
                // A whole Hermes block goes out now; one that does not parse waits for the end.
                guard parser.family == .hermes, let close = held.range(of: "</tool_call>"),
                      let (outside, made) = parser.parseHermes(String(held[..<close.upperBound])), outside.isEmpty, !made.isEmpty
                else { break }
                calls += made
                madeCalls = true
                held = String(held[close.upperBound...])
                collecting = false
            }
            if madeCalls { held = String(held.drop(while: \.isWhitespace)) }
            content += contentStep()
            if !collecting { break }
        }
        return (content, calls)
    }

    /// Sends what cannot start a call; starts collecting at a call's start.
    private mutating func contentStep() -> String {
        let family = parser.family
        if family == .llama3 && !sentText {
            let start = held.drop(while: \.isWhitespace)
            if start.isEmpty { return "" }
            if parser.startsCall(start) { collecting = true; return "" }
            if family.markers.contains(where: { $0.hasPrefix(start) }) { return "" }
        }
        if let cut = family.markers.compactMap({ held.range(of: $0)?.lowerBound }).min() {
            collecting = true
            let ready = String(held[..<cut])
            held = String(held[cut...])
            if !ready.isEmpty { sentText = true }
            return ready
        }
        let keep = StopMatcher.partialMatchLength(held, of: family.markers)
        let ready = String(held.dropLast(keep))
        held = String(held.suffix(keep))
        if !ready.isEmpty { sentText = true }
        return ready
    }

    /// At the end of the reply: the content still to send, and the calls not sent yet.
    public mutating func finish() -> (content: String, calls: [ToolCall]) {
        defer { held = "" }
        guard collecting else { return (held, []) }
        let (content, calls) = parser.parse(held)
        return calls.isEmpty ? (held, []) : (content, calls)
    }
}
