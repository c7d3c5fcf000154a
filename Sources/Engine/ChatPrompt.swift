import Foundation
import Templates
import Tokenizers

/// One turn of a conversation.
public struct ChatMessage: Sendable, Codable, Equatable, Hashable {
    public var role: String
    public var content: String
    /// The calls an assistant turn made (its content may then be empty: OpenAI's null).
    public var toolCalls: [ToolCall]?
    /// A `tool` turn: the call it answers.
    public var toolCallID: String?
    /// A `tool` (or `function`) turn: the function's name.
    public var name: String?

    public init(role: String, content: String, toolCalls: [ToolCall]? = nil, toolCallID: String? = nil, name: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.name = name
    }

    /// The message as a template sees it, shaped as llama.cpp's server passes it: content null for
    /// an assistant turn with calls and no text; each call as `{id, type, function: {name, arguments}}`
    /// with the arguments parsed into an object (templates iterate and `tojson` them) when they are
    /// a JSON object, kept as text otherwise. Keys a message lacks are left out (templates test
    /// `'tool_calls' in message`).
    public var templateValue: Value {
        let calls = toolCalls ?? []
        var d = OrderedDict([("role", .string(role)), ("content", calls.isEmpty || !content.isEmpty ? .string(content) : .none)])
        if !calls.isEmpty {
            d["tool_calls"] = .array(calls.map { call in
                let parsed = (try? Value(json: call.arguments)).flatMap { $0.isObject ? $0 : nil }
                return ["id": .string(call.id), "type": "function",
                        "function": ["name": .string(call.name), "arguments": parsed ?? .string(call.arguments)]]
            })
        }
        if let toolCallID { d["tool_call_id"] = .string(toolCallID) }
        if let name { d["name"] = .string(name) }
        return .dict(d)
    }
}

/// Where a chat template came from.
public enum ChatTemplateOrigin: Sendable, Equatable, CustomStringConvertible {
    /// `tokenizer.chat_template` in the model file.
    case model
    /// The file has none; the architecture's known template is used.
    case builtIn(String)
    /// `--chat-template FILE`.
    case file(String)

    public var description: String {
        switch self {
        case .model: "the model's own template"
        case .builtIn(let name): "built-in \(name) template (the model file has none)"
        case .file(let path): "template from \(path)"
        }
    }
}

public enum ChatError: Error, CustomStringConvertible, Equatable {
    case unreadableTemplate(path: String, reason: String)
    case badTemplate(origin: String, reason: String)
    case render(String)

    public var description: String {
        switch self {
        case .unreadableTemplate(let path, let reason): "cannot read chat template \(path): \(reason)"
        case .badTemplate(let origin, let reason): "chat template (\(origin)) does not parse: \(reason)"
        case .render(let reason): "chat template failed: \(reason)"
        }
    }
}

/// Turns a conversation into prompt tokens with the model's chat template, as llama.cpp does:
/// the template is rendered with the vocabulary's BOS/EOS texts, a BOS the template writes itself is
/// dropped when the tokenizer adds one anyway, and the text is tokenized with special tokens parsed.
public struct ChatFormatter: Sendable {
    public let origin: ChatTemplateOrigin
    public let source: String
    let template: ChatTemplate
    let tokenizer: Tokenizer

    /// The template for `engine`: `templateFile` when given, else the model's own, else the
    /// architecture's known template (Gemma 3 turn markers; ChatML, as llama.cpp, for the rest).
    public init(engine: Engine, templateFile: String? = nil) throws {
        let source: String, origin: ChatTemplateOrigin
        if let templateFile {
            do { source = try String(contentsOfFile: templateFile, encoding: .utf8) } catch {
                throw ChatError.unreadableTemplate(path: templateFile, reason: error.localizedDescription)
            }
            origin = .file(templateFile)
        } else if let own = engine.chatTemplate, !own.isEmpty {
            (source, origin) = (own, .model)
        } else {
            (source, origin) = Self.builtIn(architecture: engine.model.config.architecture)
        }
        try self.init(source: source, origin: origin, tokenizer: engine.tokenizer)
    }

    public init(source: String, origin: ChatTemplateOrigin, tokenizer: Tokenizer) throws {
        do { template = try ChatTemplate(source: source) } catch {
            throw ChatError.badTemplate(origin: origin.description, reason: "\(error)")
        }
        self.source = source
        self.origin = origin
        self.tokenizer = tokenizer
    }

    /// Whether the template reads `tools` (one that does not would silently drop them).
    public var takesTools: Bool { ToolCallFamily.templateTakesTools(source) }

    /// How the template teaches the model to write tool calls, nil when no family this reads back.
    public var toolCallFamily: ToolCallFamily? { ToolCallFamily.detect(templateSource: source) }

    /// The fallback template for an architecture whose file has none.
    public static func builtIn(architecture: String) -> (String, ChatTemplateOrigin) {
        architecture.hasPrefix("gemma") ? (gemma3ChatTemplate, .builtIn("gemma")) : (chatMLTemplate, .builtIn("chatml"))
    }

    /// The conversation as text, exactly as the template writes it (BOS text included if it writes one).
    /// A template that runs past its render budget (Templates' RenderLimits) fails with `ChatError.render`;
    /// `isCancelled`, polled during the render, ends it with `CancellationError`.
    /// `tools`: OpenAI's `tools` list as the client sent it (`{type, function: {name, description,
    /// parameters}}` objects), nil when the request has none (the template then sees None).
    public func render(_ messages: [ChatMessage], tools: [Value]? = nil, addGenerationPrompt: Bool = true,
                       isCancelled: @escaping @Sendable () -> Bool = { false }) throws -> String {
        let values = messages.map(\.templateValue)
        var template = template
        template.options.isCancelled = isCancelled
        do {
            return try template.render(messages: values, tools: tools, addGenerationPrompt: addGenerationPrompt,
                                       bosToken: tokenizer.bos.map { tokenizer.text(of: $0) } ?? "",
                                       eosToken: tokenizer.eos.map { tokenizer.text(of: $0) } ?? "")
        } catch let error as CancellationError {
            throw error
        } catch {
            throw ChatError.render("\(error)")
        }
    }

    /// The prompt tokens for the conversation.
    public func tokens(_ messages: [ChatMessage], tools: [Value]? = nil, addGenerationPrompt: Bool = true,
                       isCancelled: @escaping @Sendable () -> Bool = { false }) throws -> [TokenID] {
        var text = try render(messages, tools: tools, addGenerationPrompt: addGenerationPrompt, isCancelled: isCancelled)
        if tokenizer.addBOS, let bos = tokenizer.bos {
            let bosText = tokenizer.text(of: bos)
            if !bosText.isEmpty && text.hasPrefix(bosText) { text.removeFirst(bosText.count) }
        }
        return tokenizer.tokenize(text, addSpecial: true, parseSpecial: true)
    }

    /// `tokens(_:addGenerationPrompt:)` on a thread of its own, for servers: a template that works up
    /// to its render budget then holds neither the caller's executor nor a thread of Swift's
    /// cooperative pool, which the server's other requests (and /health) need. Cancelling the
    /// calling task stops the render with `CancellationError`.
    public func tokensOnOwnThread(_ messages: [ChatMessage], tools: [Value]? = nil, addGenerationPrompt: Bool = true) async throws -> [TokenID] {
        let cancelled = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[TokenID], Error>) in
                let thread = Thread {
                    continuation.resume(with: Result {
                        try tokens(messages, tools: tools, addGenerationPrompt: addGenerationPrompt, isCancelled: { cancelled.isSet })
                    })
                }
                thread.name = "feather.chat-template"
                thread.stackSize = 8 << 20
                thread.start()
            }
        } onCancel: {
            cancelled.set()
        }
    }
}

/// A flag set from a task's cancellation handler and polled by work on another thread (a template
/// render, an embedding).
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
