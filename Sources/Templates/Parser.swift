/// Expression syntax tree; precedence follows jinja2/parser.py.
indirect enum Expr: Sendable {
    case literal(Value)
    case name(String)
    case list([Expr])
    case tuple([Expr])
    case dict([(Expr, Expr)])
    case attribute(Expr, String)
    case item(Expr, Expr)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?)
    case call(Expr, Arguments)
    case filter(Expr, name: String, Arguments)
    case test(Expr, name: String, Arguments, negated: Bool)
    case negate(Expr)
    case plus(Expr)
    case not(Expr)
    case binary(String, Expr, Expr)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case compare(Expr, [(String, Expr)])
    case conditional(test: Expr, then: Expr, otherwise: Expr?)
}

struct Arguments: Sendable {
    var positional: [Expr] = []
    var keywords: [(String, Expr)] = []
}

enum SetTarget: Sendable {
    case names([String])
    case attribute(namespace: String, name: String)
}

struct MacroDefinition: Sendable {
    let name: String
    let parameters: [(String, Expr?)]
    let body: [Node]
}

indirect enum Node: Sendable {
    case text(String)
    case output(Expr, line: Int)
    case conditional([(Expr, [Node])], otherwise: [Node], line: Int)
    case loop(targets: [String], iterable: Expr, filter: Expr?, body: [Node], otherwise: [Node], line: Int)
    case set(SetTarget, Expr, line: Int)
    case setBlock(SetTarget, body: [Node], line: Int)
    case macro(MacroDefinition, line: Int)
    case filterBlock(name: String, Arguments, body: [Node], line: Int)
    case breakLoop(line: Int)
    case continueLoop(line: Int)
}

struct Parser {
    private let tokens: [Token]
    private var index = 0
    private var depth = 0
    /// Bounds nesting of expressions and blocks, so hostile templates cannot overflow the stack.
    static let maxNesting = 200

    init(tokens: [Token]) { self.tokens = tokens }

    static func parse(_ source: String) throws -> [Node] {
        var parser = Parser(tokens: try Lexer.tokenize(source))
        let (nodes, end) = try parser.parseNodes(until: [])
        if let end { throw parser.error("unexpected '\(end)'", at: parser.tokens[parser.index - 1]) }
        return nodes
    }

    private var current: Token { tokens[index] }

    private func error(_ message: String, at token: Token? = nil) -> TemplateError {
        let token = token ?? current
        return TemplateError(.syntax, message, line: token.line, column: token.column)
    }

    private func describe(_ kind: Token.Kind) -> String {
        switch kind {
        case .text: return "template data"
        case .blockBegin: return "begin of statement block"
        case .blockEnd: return "end of statement block"
        case .variableBegin: return "begin of print statement"
        case .variableEnd: return "end of print statement"
        case .name(let n): return n
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .op(let o): return o
        case .end: return "end of template"
        }
    }

    private mutating func advance() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    private func isOp(_ op: String) -> Bool { current.kind == .op(op) }
    private func isName(_ name: String) -> Bool { current.kind == .name(name) }

    private mutating func expectOp(_ op: String) throws {
        guard isOp(op) else { throw error("expected '\(op)', got '\(describe(current.kind))'") }
        _ = advance()
    }

    private mutating func expectName() throws -> String {
        guard case .name(let n) = current.kind else { throw error("expected name, got '\(describe(current.kind))'") }
        _ = advance()
        return n
    }

    private mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else { throw error("expected end of statement block, got '\(describe(current.kind))'") }
        _ = advance()
    }

    private mutating func nest() throws {
        depth += 1
        if depth > Parser.maxNesting { throw error("template nested too deeply (more than \(Parser.maxNesting) levels)") }
    }

    // MARK: Statements

    /// Parses nodes until a block tag whose keyword is in `terminators`; returns that keyword (tag left open).
    private mutating func parseNodes(until terminators: Set<String>) throws -> ([Node], String?) {
        try nest()
        defer { depth -= 1 }
        var nodes: [Node] = []
        while true {
            let token = current
            switch token.kind {
            case .end:
                if !terminators.isEmpty {
                    throw error("unexpected end of template, expected one of: \(terminators.sorted().joined(separator: ", "))")
                }
                return (nodes, nil)
            case .text(let text):
                _ = advance()
                nodes.append(.text(text))
            case .variableBegin:
                _ = advance()
                let expr = try parseTuple()
                guard current.kind == .variableEnd else {
                    throw error("expected end of print statement, got '\(describe(current.kind))'")
                }
                _ = advance()
                nodes.append(.output(expr, line: token.line))
            case .blockBegin:
                _ = advance()
                guard case .name(let keyword) = current.kind else { throw error("expected statement name") }
                if terminators.contains(keyword) { return (nodes, keyword) }
                nodes.append(try parseStatement(keyword, line: token.line))
            default:
                throw error("unexpected '\(describe(token.kind))'")
            }
        }
    }

    private mutating func parseStatement(_ keyword: String, line: Int) throws -> Node {
        let keywordToken = advance()
        switch keyword {
        case "if":
            var branches: [(Expr, [Node])] = []
            var condition = try parseExpression()
            var otherwise: [Node] = []
            while true {
                try expectBlockEnd()
                let (body, end) = try parseNodes(until: ["elif", "else", "endif"])
                branches.append((condition, body))
                _ = advance()
                if end == "elif" {
                    condition = try parseExpression()
                    continue
                }
                if end == "else" {
                    try expectBlockEnd()
                    (otherwise, _) = try parseNodes(until: ["endif"])
                    _ = advance()
                }
                try expectBlockEnd()
                return .conditional(branches, otherwise: otherwise, line: line)
            }
        case "for":
            var targets = [try expectName()]
            while isOp(",") {
                _ = advance()
                targets.append(try expectName())
            }
            guard isName("in") else { throw error("expected 'in', got '\(describe(current.kind))'") }
            _ = advance()
            let iterable = try parseTuple(withConditional: false)
            var filter: Expr? = nil
            if isName("if") {
                _ = advance()
                filter = try parseExpression()
            }
            if isName("recursive") { throw TemplateError(.unsupported, "recursive loops are not supported", line: current.line, column: current.column) }
            try expectBlockEnd()
            let (body, end) = try parseNodes(until: ["else", "endfor"])
            _ = advance()
            var otherwise: [Node] = []
            if end == "else" {
                try expectBlockEnd()
                (otherwise, _) = try parseNodes(until: ["endfor"])
                _ = advance()
            }
            try expectBlockEnd()
            return .loop(targets: targets, iterable: iterable, filter: filter, body: body, otherwise: otherwise, line: line)
        case "set":
            let first = try expectName()
            var target = SetTarget.names([first])
            if isOp(".") {
                _ = advance()
                target = .attribute(namespace: first, name: try expectName())
            } else if isOp(",") {
                var names = [first]
                while isOp(",") {
                    _ = advance()
                    names.append(try expectName())
                }
                target = .names(names)
            }
            if isOp("=") {
                _ = advance()
                let value = try parseTuple()
                try expectBlockEnd()
                return .set(target, value, line: line)
            }
            try expectBlockEnd()
            let (body, _) = try parseNodes(until: ["endset"])
            _ = advance()
            try expectBlockEnd()
            return .setBlock(target, body: body, line: line)
        case "macro":
            let name = try expectName()
            try expectOp("(")
            var parameters: [(String, Expr?)] = []
            while !isOp(")") {
                if !parameters.isEmpty { try expectOp(",") }
                if isOp(")") { break }
                let parameter = try expectName()
                var defaultValue: Expr? = nil
                if isOp("=") {
                    _ = advance()
                    defaultValue = try parseExpression()
                }
                parameters.append((parameter, defaultValue))
            }
            _ = advance()
            try expectBlockEnd()
            let (body, _) = try parseNodes(until: ["endmacro"])
            _ = advance()
            if case .name = current.kind { _ = advance() }
            try expectBlockEnd()
            return .macro(MacroDefinition(name: name, parameters: parameters, body: body), line: line)
        case "filter":
            let name = try expectName()
            var arguments = Arguments()
            if isOp("(") { arguments = try parseCallArguments() }
            try expectBlockEnd()
            let (body, _) = try parseNodes(until: ["endfilter"])
            _ = advance()
            try expectBlockEnd()
            return .filterBlock(name: name, arguments, body: body, line: line)
        case "generation":
            // transformers' AssistantTracker tag: renders its body unchanged.
            try expectBlockEnd()
            let (body, _) = try parseNodes(until: ["endgeneration"])
            _ = advance()
            try expectBlockEnd()
            return .conditional([(.literal(.bool(true)), body)], otherwise: [], line: line)
        case "break":
            try expectBlockEnd()
            return .breakLoop(line: line)
        case "continue":
            try expectBlockEnd()
            return .continueLoop(line: line)
        case "include", "import", "from", "extends", "block", "call", "with", "do", "autoescape":
            throw TemplateError(.unsupported, "the '\(keyword)' statement is not supported", line: keywordToken.line, column: keywordToken.column)
        default:
            throw error("Encountered unknown tag '\(keyword)'.", at: keywordToken)
        }
    }

    // MARK: Expressions

    /// An expression, or an implicit tuple `a, b` (as in `{{ a, b }}` or `{% set x = 1, 2 %}`).
    private mutating func parseTuple(withConditional: Bool = true) throws -> Expr {
        let first = withConditional ? try parseExpression() : try parseOr()
        guard isOp(",") else { return first }
        var items = [first]
        while isOp(",") {
            _ = advance()
            if current.kind == .variableEnd || current.kind == .blockEnd || isOp(")") { break }
            items.append(withConditional ? try parseExpression() : try parseOr())
        }
        return .tuple(items)
    }

    mutating func parseExpression() throws -> Expr {
        try nest()
        defer { depth -= 1 }
        let expr = try parseOr()
        if isName("if") {
            _ = advance()
            let test = try parseOr()
            var otherwise: Expr? = nil
            if isName("else") {
                _ = advance()
                otherwise = try parseExpression()
            }
            return .conditional(test: test, then: expr, otherwise: otherwise)
        }
        return expr
    }

    private mutating func parseOr() throws -> Expr {
        var left = try parseAnd()
        while isName("or") {
            _ = advance()
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws -> Expr {
        var left = try parseNot()
        while isName("and") {
            _ = advance()
            left = .and(left, try parseNot())
        }
        return left
    }

    private mutating func parseNot() throws -> Expr {
        if isName("not") {
            _ = advance()
            try nest()
            defer { depth -= 1 }
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> Expr {
        let left = try parseMath1()
        var operations: [(String, Expr)] = []
        while true {
            if case .op(let op) = current.kind, ["==", "!=", "<", "<=", ">", ">="].contains(op) {
                _ = advance()
                operations.append((op, try parseMath1()))
            } else if isName("in") {
                _ = advance()
                operations.append(("in", try parseMath1()))
            } else if isName("not"), index + 1 < tokens.count, tokens[index + 1].kind == .name("in") {
                _ = advance()
                _ = advance()
                operations.append(("not in", try parseMath1()))
            } else {
                break
            }
        }
        return operations.isEmpty ? left : .compare(left, operations)
    }

    private mutating func parseMath1() throws -> Expr {
        var left = try parseConcat()
        while case .op(let op) = current.kind, op == "+" || op == "-" {
            _ = advance()
            left = .binary(op, left, try parseConcat())
        }
        return left
    }

    private mutating func parseConcat() throws -> Expr {
        var left = try parseMath2()
        while isOp("~") {
            _ = advance()
            left = .binary("~", left, try parseMath2())
        }
        return left
    }

    private mutating func parseMath2() throws -> Expr {
        var left = try parsePow()
        while case .op(let op) = current.kind, ["*", "/", "//", "%"].contains(op) {
            _ = advance()
            left = .binary(op, left, try parsePow())
        }
        return left
    }

    private mutating func parsePow() throws -> Expr {
        var left = try parseUnary()
        while isOp("**") {
            _ = advance()
            left = .binary("**", left, try parseUnary())
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> Expr {
        try nest()
        defer { depth -= 1 }
        var node: Expr
        if isOp("-") {
            _ = advance()
            node = .negate(try parseUnary(withFilter: false))
        } else if isOp("+") {
            _ = advance()
            node = .plus(try parseUnary(withFilter: false))
        } else {
            node = try parsePrimary()
        }
        node = try parsePostfix(node)
        if withFilter { node = try parseFilterExpression(node) }
        return node
    }

    private mutating func parsePrimary() throws -> Expr {
        let token = current
        switch token.kind {
        case .name(let n):
            _ = advance()
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .string(var s):
            _ = advance()
            while case .string(let more) = current.kind {
                s += more
                _ = advance()
            }
            return .literal(.string(s))
        case .integer(let i):
            _ = advance()
            return .literal(.int(i))
        case .float(let d):
            _ = advance()
            return .literal(.double(d))
        case .op("("):
            _ = advance()
            if isOp(")") {
                _ = advance()
                return .tuple([])
            }
            let expr = try parseExpression()
            if isOp(",") {
                var items = [expr]
                while isOp(",") {
                    _ = advance()
                    if isOp(")") { break }
                    items.append(try parseExpression())
                }
                try expectOp(")")
                return .tuple(items)
            }
            try expectOp(")")
            return expr
        case .op("["):
            _ = advance()
            var items: [Expr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            _ = advance()
            return .list(items)
        case .op("{"):
            _ = advance()
            var pairs: [(Expr, Expr)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
            }
            _ = advance()
            return .dict(pairs)
        default:
            throw error("unexpected '\(describe(token.kind))'")
        }
    }

    private mutating func parsePostfix(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp(".") {
                _ = advance()
                switch current.kind {
                case .name(let n):
                    _ = advance()
                    node = .attribute(node, n)
                case .integer(let i):
                    _ = advance()
                    node = .item(node, .literal(.int(i)))
                default:
                    throw error("expected name or number after '.'")
                }
            } else if isOp("[") {
                _ = advance()
                node = try parseSubscript(node)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments())
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ target: Expr) throws -> Expr {
        var parts: [Expr?] = []
        var current: Expr? = nil
        var isSlice = false
        while !isOp("]") {
            if isOp(":") {
                _ = advance()
                parts.append(current)
                current = nil
                isSlice = true
            } else {
                guard current == nil else { throw error("expected ']' or ':'") }
                current = try parseExpression()
            }
        }
        _ = advance()
        parts.append(current)
        if !isSlice {
            guard let index = parts[0] else { throw error("expected subscript expression") }
            return .item(target, index)
        }
        guard parts.count <= 3 else { throw error("too many ':' in slice") }
        while parts.count < 3 { parts.append(nil) }
        return .slice(target, start: parts[0], stop: parts[1], step: parts[2])
    }

    private mutating func parseCallArguments() throws -> Arguments {
        try expectOp("(")
        var arguments = Arguments()
        while !isOp(")") {
            if !arguments.positional.isEmpty || !arguments.keywords.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            if case .name(let n) = current.kind, index + 1 < tokens.count, tokens[index + 1].kind == .op("=") {
                _ = advance()
                _ = advance()
                arguments.keywords.append((n, try parseExpression()))
            } else {
                if !arguments.keywords.isEmpty { throw error("positional argument after keyword argument") }
                if isOp("*") || isOp("**") { throw TemplateError(.unsupported, "*args and **kwargs in calls are not supported", line: current.line, column: current.column) }
                arguments.positional.append(try parseExpression())
            }
        }
        _ = advance()
        return arguments
    }

    private mutating func parseFilterExpression(_ start: Expr) throws -> Expr {
        var node = start
        while true {
            if isOp("|") {
                _ = advance()
                var name = try expectName()
                while isOp(".") {
                    _ = advance()
                    name += "." + (try expectName())
                }
                var arguments = Arguments()
                if isOp("(") { arguments = try parseCallArguments() }
                node = .filter(node, name: name, arguments)
            } else if isName("is") {
                _ = advance()
                var negated = false
                if isName("not") {
                    _ = advance()
                    negated = true
                }
                let name = try expectName()
                var arguments = Arguments()
                if isOp("(") {
                    arguments = try parseCallArguments()
                } else if startsTestArgument() {
                    if isName("is") { throw error("You cannot chain multiple tests with is") }
                    arguments.positional = [try parsePostfix(try parsePrimary())]
                }
                node = .test(node, name: name, arguments, negated: negated)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments())
            } else {
                return node
            }
        }
    }

    private func startsTestArgument() -> Bool {
        switch current.kind {
        case .name(let n): return !["else", "or", "and"].contains(n)
        case .string, .integer, .float: return true
        case .op(let o): return o == "[" || o == "{"
        default: return false
        }
    }
}
