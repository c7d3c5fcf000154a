/// Every failure of parsing or rendering a template.
public struct TemplateError: Error, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The template text is malformed (jinja2's TemplateSyntaxError).
        case syntax
        /// The template called `raise_exception(message)` (jinja2's TemplateError).
        case raised
        /// An undefined value was used where jinja2 raises UndefinedError.
        case undefined
        /// An operation on values of the wrong type (Python's TypeError / ValueError).
        case type
        /// A sandbox limit was reached: loop iterations, recursion depth or output size.
        case limit
        /// Access to something the sandbox forbids (jinja2's SecurityError).
        case security
        /// A feature outside the supported subset.
        case unsupported
        /// Malformed JSON input.
        case json
    }

    public let kind: Kind
    public let message: String
    /// 1-based position in the template source, where known.
    public internal(set) var line: Int?
    public internal(set) var column: Int?

    public init(_ kind: Kind, _ message: String, line: Int? = nil, column: Int? = nil) {
        self.kind = kind
        self.message = message
        self.line = line
        self.column = column
    }

    public var description: String {
        switch (line, column) {
        case let (line?, column?): return "template error at line \(line), column \(column): \(message)"
        case let (line?, nil): return "template error at line \(line): \(message)"
        default: return "template error: \(message)"
        }
    }
}
