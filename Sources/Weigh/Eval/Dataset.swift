import Foundation

/// One row of a benchmark file, its fields as strings.
public struct Doc: Sendable {
    public var index: Int
    public var fields: [String: String]
    /// Fields that are lists (MT-Bench turns).
    public var lists: [String: [String]]
}

public enum Dataset {
    /// The data folder: `$FEATHER_DATA`, else `.data/`.
    public static var directory: String {
        ProcessInfo.processInfo.environment["FEATHER_DATA"] ?? ".data"
    }

    public static func path(_ file: String, directory: String? = nil) -> String {
        file.hasPrefix("/") ? file : ((directory ?? Self.directory) as NSString).appendingPathComponent(file)
    }

    public static func load(_ file: String, format: String, directory: String? = nil) throws -> [Doc] {
        let p = path(file, directory: directory)
        guard let data = FileManager.default.contents(atPath: p) else { throw EvalError.missingData(p) }
        guard let text = String(data: data, encoding: .utf8) else { throw EvalError.badData(p, "not UTF-8") }
        switch format {
        case "jsonl": return try jsonl(text, path: p)
        case "csv": return try csv(text, path: p)
        case "wikiextractor": return wikiExtractor(text)
        default: throw EvalError.badData(p, "unknown format '\(format)'")
        }
    }

    static func jsonl(_ text: String, path: String) throws -> [Doc] {
        var docs: [Doc] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw EvalError.badData(path, "line \(n + 1) is not a JSON object")
            }
            var fields: [String: String] = [:], lists: [String: [String]] = [:]
            for (k, v) in object {
                if let s = v as? String { fields[k] = s }
                else if let a = v as? [Any] { lists[k] = a.map { ($0 as? String) ?? "\($0)" } }
                else if let num = v as? NSNumber { fields[k] = num.stringValue }
                else if !(v is NSNull) { fields[k] = "\(v)" }
            }
            docs.append(Doc(index: docs.count, fields: fields, lists: lists))
        }
        return docs
    }

    /// RFC 4180: quoted fields may hold commas, quotes ("") and newlines; the first row names the columns.
    static func csv(_ text: String, path: String) throws -> [Doc] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text.unicodeScalars)[...]
        if chars.first == "\u{FEFF}" { chars = chars.dropFirst() }
        var i = chars.startIndex
        var scalars = String.UnicodeScalarView()
        func endField() { field = String(scalars); scalars.removeAll(); row.append(field) }
        while i < chars.endIndex {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.endIndex && chars[i + 1] == "\"" { scalars.append("\""); i += 1 } else { quoted = false }
                } else {
                    scalars.append(c)
                }
            } else {
                switch c {
                case "\"": quoted = true
                case ",": endField()
                case "\r": break
                case "\n": endField(); rows.append(row); row = []
                default: scalars.append(c)
                }
            }
            i += 1
        }
        if quoted { throw EvalError.badData(path, "unterminated quoted field") }
        if !scalars.isEmpty || !row.isEmpty { endField(); rows.append(row) }
        guard let header = rows.first else { return [] }
        var docs: [Doc] = []
        for r in rows.dropFirst() where !(r.count == 1 && r[0].isEmpty) {
            var fields: [String: String] = [:]
            for (k, name) in header.enumerated() where k < r.count { fields[name] = r[k] }
            docs.append(Doc(index: docs.count, fields: fields, lists: [:]))
        }
        return docs
    }

    /// WikiExtractor output: `<doc id=... title="...">` blocks; the text is the lines between the
    /// tags (title line included), without the tags themselves.
    static func wikiExtractor(_ text: String) -> [Doc] {
        var docs: [Doc] = []
        var lines: [Substring] = []
        var title = "", id = ""
        var inDoc = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("<doc ") {
                inDoc = true
                lines = []
                title = attribute("title", in: line)
                id = attribute("id", in: line)
            } else if line == "</doc>" {
                if inDoc {
                    var body = lines.joined(separator: "\n")
                    while body.hasSuffix("\n") { body.removeLast() }
                    docs.append(Doc(index: docs.count, fields: ["text": body, "title": title, "doc_id": id], lists: [:]))
                }
                inDoc = false
            } else if inDoc {
                lines.append(line)
            }
        }
        return docs
    }

    private static func attribute(_ name: String, in line: Substring) -> String {
        guard let r = line.range(of: "\(name)=\"") else { return "" }
        let rest = line[r.upperBound...]
        return String(rest.prefix { $0 != "\"" })
    }
}
