/// Splits template source into text and tag tokens, applying whitespace control the way jinja2's
/// lexer does (jinja2/lexer.py): `{%-`/`-%}` strip all adjacent whitespace, `trim_blocks` drops the
/// first newline after a block or comment tag, `lstrip_blocks` drops spaces and tabs before a block
/// or comment tag that starts its line, `+` turns either off for one tag.
struct Token: Equatable {
    enum Kind: Equatable {
        case text(String)
        case blockBegin, blockEnd, variableBegin, variableEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(String)
        case end
    }

    let kind: Kind
    let line: Int
    let column: Int
}

struct Lexer {
    private let source: [Unicode.Scalar]
    private let trimBlocks: Bool
    private let lstripBlocks: Bool
    private var lineStarts: [Int] = [0]
    private var position = 0
    private(set) var tokens: [Token] = []

    init(source text: String, trimBlocks: Bool = true, lstripBlocks: Bool = true) {
        // jinja2 normalizes newlines and drops one trailing newline (keep_trailing_newline=False).
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        var previousCR = false
        for s in text.unicodeScalars {
            if s == "\r" { scalars.append("\n"); previousCR = true; continue }
            if s == "\n" && previousCR { previousCR = false; continue }
            previousCR = false
            scalars.append(s)
        }
        if scalars.last == "\n" { scalars.removeLast() }
        source = scalars
        self.trimBlocks = trimBlocks
        self.lstripBlocks = lstripBlocks
        for (i, s) in source.enumerated() where s == "\n" { lineStarts.append(i + 1) }
    }

    static func tokenize(_ text: String) throws -> [Token] {
        var lexer = Lexer(source: text)
        try lexer.run()
        return lexer.tokens
    }

    func location(_ offset: Int) -> (line: Int, column: Int) {
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return (low + 1, offset - lineStarts[low] + 1)
    }

    private func error(_ message: String, at offset: Int) -> TemplateError {
        let (line, column) = location(offset)
        return TemplateError(.syntax, message, line: line, column: column)
    }

    private func emit(_ kind: Token.Kind, at offset: Int) -> Token {
        let (line, column) = location(offset)
        return Token(kind: kind, line: line, column: column)
    }

    private func matches(_ text: String, at offset: Int) -> Bool {
        var i = offset
        for s in text.unicodeScalars {
            guard i < source.count, source[i] == s else { return false }
            i += 1
        }
        return true
    }

    private func skipWhitespace(from offset: Int) -> Int {
        var i = offset
        while i < source.count, isPythonSpace(source[i]) { i += 1 }
        return i
    }

    private func string(_ range: Range<Int>) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: source[range])
        return String(view)
    }

    /// The text before a tag, after `-` stripping or lstrip_blocks.
    private func leadingText(_ range: Range<Int>, sign: Unicode.Scalar?, isVariable: Bool) -> String {
        var end = range.upperBound
        if sign == "-" {
            while end > range.lowerBound, isPythonSpace(source[end - 1]) { end -= 1 }
        } else if sign != "+" && lstripBlocks && !isVariable {
            var lineStart = end
            while lineStart > range.lowerBound, source[lineStart - 1] != "\n" { lineStart -= 1 }
            let lineStarting = range.lowerBound == 0 || source[range.lowerBound - 1] == "\n"
            if (lineStart > range.lowerBound || lineStarting) && lineStart < end
                && source[lineStart..<end].allSatisfy(isPythonSpace) {
                end = lineStart
            }
        }
        return string(range.lowerBound..<end)
    }

    mutating func run() throws {
        while position < source.count {
            // Find the next tag opener.
            var tagStart = position
            var opener: Unicode.Scalar? = nil
            while tagStart + 1 < source.count {
                if source[tagStart] == "{", ["%", "{", "#"].contains(source[tagStart + 1]) {
                    opener = source[tagStart + 1]
                    break
                }
                tagStart += 1
            }
            guard let opener else {
                tokens.append(emit(.text(string(position..<source.count)), at: position))
                position = source.count
                break
            }
            var afterOpener = tagStart + 2
            var sign: Unicode.Scalar? = nil
            if afterOpener < source.count, source[afterOpener] == "-" || source[afterOpener] == "+" {
                sign = source[afterOpener]
                afterOpener += 1
            }
            let textStart = position
            if opener == "%", let rawBodyStart = rawBegin(afterOpener) {
                let text = leadingText(textStart..<tagStart, sign: sign, isVariable: false)
                if !text.isEmpty { tokens.append(emit(.text(text), at: textStart)) }
                try lexRaw(from: rawBodyStart, tagStart: tagStart)
                continue
            }
            let text = leadingText(textStart..<tagStart, sign: sign, isVariable: opener == "{")
            if !text.isEmpty { tokens.append(emit(.text(text), at: textStart)) }
            switch opener {
            case "#":
                try lexComment(from: afterOpener, tagStart: tagStart)
            case "%":
                tokens.append(emit(.blockBegin, at: tagStart))
                position = afterOpener
                try lexTag(closer: "%", tagStart: tagStart)
            default:
                tokens.append(emit(.variableBegin, at: tagStart))
                position = afterOpener
                try lexTag(closer: "}", tagStart: tagStart)
            }
        }
        tokens.append(emit(.end, at: source.count))
    }

    /// If a `{% raw %}` tag starts here (after `{%` and its sign), the offset after the tag.
    private func rawBegin(_ offset: Int) -> Int? {
        var i = skipWhitespace(from: offset)
        guard matches("raw", at: i) else { return nil }
        i += 3
        if i < source.count, isIdentifierPart(source[i]) { return nil }
        i = skipWhitespace(from: i)
        if matches("-%}", at: i) { return skipWhitespace(from: i + 3) }
        if matches("%}", at: i) { return i + 2 }
        return nil
    }

    private mutating func lexRaw(from bodyStart: Int, tagStart: Int) throws {
        var i = bodyStart
        while i + 1 < source.count {
            if source[i] == "{", source[i + 1] == "%" {
                var j = i + 2
                var sign: Unicode.Scalar? = nil
                if j < source.count, source[j] == "-" || source[j] == "+" { sign = source[j]; j += 1 }
                j = skipWhitespace(from: j)
                if matches("endraw", at: j) {
                    j = skipWhitespace(from: j + 6)
                    var end: Int? = nil
                    if matches("+%}", at: j) { end = j + 3 }
                    else if matches("-%}", at: j) { end = skipWhitespace(from: j + 3) }
                    else if matches("%}", at: j) {
                        end = j + 2
                        if trimBlocks, end! < source.count, source[end!] == "\n" { end! += 1 }
                    }
                    if let end {
                        let text = leadingText(bodyStart..<i, sign: sign, isVariable: false)
                        if !text.isEmpty { tokens.append(emit(.text(text), at: bodyStart)) }
                        position = end
                        return
                    }
                }
            }
            i += 1
        }
        throw error("Missing end of raw directive", at: tagStart)
    }

    private mutating func lexComment(from offset: Int, tagStart: Int) throws {
        var i = offset
        while i + 1 < source.count {
            if source[i] == "#", source[i + 1] == "}" {
                var end = i + 2
                let before: Unicode.Scalar? = i > offset ? source[i - 1] : nil
                if before == "-" {
                    end = skipWhitespace(from: end)
                } else if before != "+", trimBlocks, end < source.count, source[end] == "\n" {
                    end += 1
                }
                position = end
                return
            }
            i += 1
        }
        throw error("Missing end of comment tag", at: tagStart)
    }

    /// Lexes expression tokens up to the closing `%}` or `}}` (only when brackets are balanced).
    private mutating func lexTag(closer: Unicode.Scalar, tagStart: Int) throws {
        var brackets: [Unicode.Scalar] = []
        let isBlock = closer == "%"
        while true {
            position = skipWhitespace(from: position)
            guard position < source.count else {
                throw error(isBlock ? "unexpected end of template, expected end of block ('%}')"
                                    : "unexpected end of template, expected end of print statement ('}}')", at: tagStart)
            }
            if brackets.isEmpty {
                let c = source[position]
                let closeText = isBlock ? "%}" : "}}"
                if isBlock && c == "+" && matches("+%}", at: position) {
                    tokens.append(emit(.blockEnd, at: position))
                    position += 3
                    return
                }
                if c == "-" && matches("-" + closeText, at: position) {
                    tokens.append(emit(isBlock ? .blockEnd : .variableEnd, at: position))
                    position = skipWhitespace(from: position + 3)
                    return
                }
                if matches(closeText, at: position) {
                    tokens.append(emit(isBlock ? .blockEnd : .variableEnd, at: position))
                    position += 2
                    if isBlock, trimBlocks, position < source.count, source[position] == "\n" { position += 1 }
                    return
                }
            }
            let start = position
            let c = source[position]
            if isDigit(c) {
                tokens.append(emit(try lexNumber(), at: start))
            } else if isIdentifierStart(c) {
                var end = position
                while end < source.count, isIdentifierPart(source[end]) { end += 1 }
                tokens.append(emit(.name(string(position..<end)), at: start))
                position = end
            } else if c == "'" || c == "\"" {
                tokens.append(emit(.string(try lexString(quote: c)), at: start))
            } else {
                let op = try lexOperator()
                switch op {
                case "(": brackets.append(")")
                case "[": brackets.append("]")
                case "{": brackets.append("}")
                case ")", "]", "}":
                    guard let expected = brackets.popLast() else { throw error("unexpected '\(op)'", at: start) }
                    guard String(expected) == op else { throw error("unexpected '\(op)', expected '\(expected)'", at: start) }
                default: break
                }
                tokens.append(emit(.op(op), at: start))
            }
        }
    }

    private mutating func lexOperator() throws -> String {
        for op in ["//", "**", "==", "!=", "<=", ">="] where matches(op, at: position) {
            position += 2
            return op
        }
        let c = source[position]
        guard "+-/*%~[](){}<>=.:|,;".unicodeScalars.contains(c) else {
            throw error("unexpected char '\(Character(c))'", at: position)
        }
        position += 1
        return String(Character(c))
    }

    private func digitsEnd(from offset: Int) -> Int {
        var i = offset
        while i < source.count, isDigit(source[i]) || (source[i] == "_" && i + 1 < source.count && isDigit(source[i + 1])) { i += 1 }
        return i
    }

    private mutating func lexNumber() throws -> Token.Kind {
        let start = position
        var end = digitsEnd(from: position)
        var isFloat = false
        if end + 1 < source.count, source[end] == ".", isDigit(source[end + 1]) {
            end = digitsEnd(from: end + 1)
            isFloat = true
        }
        if end < source.count, source[end] == "e" || source[end] == "E" {
            var j = end + 1
            if j < source.count, source[j] == "+" || source[j] == "-" { j += 1 }
            if j < source.count, isDigit(source[j]) {
                end = digitsEnd(from: j)
                isFloat = true
            }
        }
        position = end
        let text = string(start..<end).replacingOccurrences(of: "_", with: "")
        if isFloat {
            guard let d = Double(text) else { throw error("invalid number '\(text)'", at: start) }
            return .float(d)
        }
        guard let i = Int(text) else { throw error("integer literal too large: \(text)", at: start) }
        return .integer(i)
    }

    /// A string literal, decoded like Python's unicode-escape codec (which jinja2 uses).
    private mutating func lexString(quote: Unicode.Scalar) throws -> String {
        let start = position
        var i = position + 1
        var out = String.UnicodeScalarView()
        while i < source.count {
            let c = source[i]
            if c == quote { position = i + 1; return String(out) }
            if c != "\\" { out.append(c); i += 1; continue }
            guard i + 1 < source.count else { break }
            let e = source[i + 1]
            i += 2
            switch e {
            case "\n": break
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "x", "u", "U":
                let width = e == "x" ? 2 : e == "u" ? 4 : 8
                guard i + width <= source.count,
                      let code = UInt32(string(i..<i + width), radix: 16),
                      let scalar = Unicode.Scalar(code) else {
                    throw error("invalid \\\(Character(e)) escape in string", at: i - 2)
                }
                out.append(scalar)
                i += width
            case "0"..."7":
                var code = e.value - 48
                var n = 1
                while n < 3, i < source.count, ("0"..."7").contains(source[i]) {
                    code = code * 8 + source[i].value - 48
                    i += 1
                    n += 1
                }
                out.append(Unicode.Scalar(code)!)
            default:
                out.append("\\")
                out.append(e)
            }
        }
        throw error("unexpected end of string", at: start)
    }
}

func isDigit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }
func isIdentifierStart(_ s: Unicode.Scalar) -> Bool { s == "_" || s.properties.isXIDStart }
func isIdentifierPart(_ s: Unicode.Scalar) -> Bool { s == "_" || s.properties.isXIDContinue }
