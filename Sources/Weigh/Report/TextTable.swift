/// Plain-text tables: columns padded to their widest cell, optionally right-aligned.
public struct TextTable {
    public var header: [String]
    public var rows: [[String]]
    /// Columns to right-align (numbers).
    public var rightAligned: Set<Int>

    public init(header: [String], rows: [[String]] = [], rightAligned: Set<Int> = []) {
        self.header = header
        self.rows = rows
        self.rightAligned = rightAligned
    }

    /// `style` wraps a cell's padded text (for colours) given its row (-1 for the header) and column.
    public func render(indent: String = "", style: (String, Int, Int) -> String = { s, _, _ in s }) -> String {
        let all = [header] + rows
        let n = all.map(\.count).max() ?? 0
        let widths = (0..<n).map { c in all.map { c < $0.count ? $0[c].count : 0 }.max() ?? 0 }
        return all.enumerated().map { r, row in
            indent + (0..<n).map { c in
                let cell = c < row.count ? row[c] : ""
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                let padded = rightAligned.contains(c) ? pad + cell : (c == n - 1 ? cell : cell + pad)
                return style(padded, r - 1, c)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
