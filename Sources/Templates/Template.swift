import Foundation

/// A parsed Jinja template, rendered with the semantics of jinja2's ImmutableSandboxedEnvironment
/// with `trim_blocks` and `lstrip_blocks` (the configuration transformers uses for chat templates).
///
/// Supported: `{{ }}`, `if/elif/else`, `for` (unpacking, `if` filter, `else`, `loop.*`, `break`/`continue`),
/// `set` (also block `set` and `ns.attr`), `macro` with defaults and keyword arguments, `filter` blocks,
/// `raw`, comments, whitespace control, transformers' `generation` tag; the globals `range`, `namespace`,
/// `dict`, `raise_exception`, `strftime_now`; the filters and tests chat templates use (see Filters.swift).
/// Not supported: `include`/`import`/`extends`/`block`, `call` blocks and `caller`, recursive loops,
/// `loop.changed`, `*args`/`**kwargs`, printf-style `%` on strings, `str.format`; tuples are lists, so
/// `str()` of `items()` prints `[...]` where Python prints `(...)`.
public struct Template: Sendable {
    let nodes: [Node]

    /// Parses `source`; throws a `.syntax` error with line and column for malformed templates.
    public init(source: String) throws {
        nodes = try Parser.parse(source)
    }

    public func render(context: [String: Value], options: RenderOptions = RenderOptions()) throws -> String {
        try Interpreter(context: context, options: options).render(nodes)
    }
}

/// A model's chat template, rendered the way transformers' `apply_chat_template` renders it.
public struct ChatTemplate: Sendable {
    public let template: Template
    public var options: RenderOptions

    public init(source: String, options: RenderOptions = RenderOptions()) throws {
        template = try Template(source: source)
        self.options = options
    }

    /// Renders a conversation. Like transformers, `tools` and `documents` are always defined (None when
    /// absent), and the special tokens are passed when known; `extra` adds or overrides variables.
    public func render(messages: [Value], tools: [Value]? = nil, addGenerationPrompt: Bool = false,
                       bosToken: String? = nil, eosToken: String? = nil, extra: [String: Value] = [:]) throws -> String {
        var context: [String: Value] = [
            "messages": .array(messages),
            "tools": tools.map(Value.array) ?? .none,
            "documents": .none,
            "add_generation_prompt": .bool(addGenerationPrompt),
        ]
        if let bosToken { context["bos_token"] = .string(bosToken) }
        if let eosToken { context["eos_token"] = .string(eosToken) }
        context.merge(extra) { _, new in new }
        return try template.render(context: context, options: options)
    }

    /// Convenience for messages given as Swift dictionaries (key order then follows `role`, `content`, the rest sorted).
    public func render(messages: [[String: Value]], tools: [Value]? = nil, addGenerationPrompt: Bool = false,
                       bosToken: String? = nil, eosToken: String? = nil, extra: [String: Value] = [:]) throws -> String {
        let ordered = messages.map { message -> Value in
            let keys = message.keys.sorted { a, b in
                let rank = ["role": 0, "content": 1]
                return (rank[a] ?? 2, a) < (rank[b] ?? 2, b)
            }
            return .dict(OrderedDict(keys.map { ($0, message[$0]!) }))
        }
        return try render(messages: ordered, tools: tools, addGenerationPrompt: addGenerationPrompt,
                          bosToken: bosToken, eosToken: eosToken, extra: extra)
    }
}

extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: Value...) { self = .array(elements) }
    /// Dictionary literals keep their written order, as Python dicts do.
    public init(dictionaryLiteral elements: (String, Value)...) { self = .dict(OrderedDict(elements)) }
}
