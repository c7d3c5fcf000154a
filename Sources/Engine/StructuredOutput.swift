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
        do { return try JSONGrammarBuilder.schema(schema) } catch { throw .schema(error) }
    }

    /// The grammar for the schema found at `path` (object keys) inside the JSON document `text`
    /// (a request body, read again so the schema keeps its key order); nil when nothing is there.
    public static func jsonSchema(in text: String, at path: [String]) throws(StructuredOutputError) -> Grammar? {
        var node: Value
        do { node = try Value(json: text) } catch { throw .notJSON("\(error)") }
        for key in path {
            guard case .dict(let d) = node, let next = d[key] else { return nil }
            node = next
        }
        if case .none = node { return nil }
        do { return try JSONGrammarBuilder.schema(node) } catch { throw .schema(error) }
    }
}
