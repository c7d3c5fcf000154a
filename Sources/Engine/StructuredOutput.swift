import Foundation
import Grammar
import Templates

public enum StructuredOutputError: Error, CustomStringConvertible, Equatable {
    /// The schema's text is not JSON.
    case notJSON(String)
    case schema(JSONSchemaError)

    public var description: String {
        switch self {
        case .notJSON(let reason): "the JSON Schema is not valid JSON: \(reason)"
        case .schema(let e): e.description
        }
    }
}

/// The grammars that structured output asks for: JSON mode and JSON Schema (OpenAI's
/// `response_format`, `feather run --json-schema`). The schema is read in its own key order, which
/// is the order the output's properties take.
public enum StructuredOutput {
    /// Any JSON object.
    public static func jsonObject() -> Grammar { JSONGrammarBuilder.object() }

    /// Values valid under the JSON Schema written in `text`.
    public static func jsonSchema(text: String) throws(StructuredOutputError) -> Grammar {
        let schema: Value
        do { schema = try Value(json: text) } catch { throw .notJSON("\(error)") }
        return try jsonSchema(schema)
    }

    /// Values valid under `schema` (a parsed JSON Schema).
    public static func jsonSchema(_ schema: Value) throws(StructuredOutputError) -> Grammar {
        do { return try JSONGrammarBuilder.schema(schema) } catch { throw .schema(error) }
    }

    /// One tool call in the shape its family writes it (`ToolCallFamily.callConstraints`): any one
    /// of `alternatives`, each its prefix, JSON valid under its schema, then its suffix.
    public static func toolCall(_ alternatives: [ToolCallConstraint]) throws(StructuredOutputError) -> Grammar {
        var j = JSONGrammarBuilder()
        var options: [[GrammarElement]] = []
        for alternative in alternatives {
            do {
                let value = try j.value(alternative.schema)
                options.append(GrammarBuilder.literal(alternative.prefix) + value + GrammarBuilder.literal(alternative.suffix))
            } catch { throw .schema(error) }
        }
        j.builder.rule("root", options)
        do { return try j.builder.build(root: "root") } catch { throw .schema(.invalid(error.description, path: "")) }
    }
}
