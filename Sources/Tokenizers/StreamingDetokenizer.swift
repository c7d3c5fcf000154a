/// Turns generated tokens into text as they come, never emitting part of a UTF-8 character:
/// bytes of an incomplete character wait for the next token.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: Tokenizer
    /// Render control tokens (e.g. "<end_of_turn>") as their text.
    public var special: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, special: Bool = false) {
        self.tokenizer = tokenizer
        self.special = special
    }

    /// The text that `id` completes; may be empty.
    public mutating func append(_ id: TokenID) -> String {
        pending.append(contentsOf: tokenizer.pieceBytes(id, special: special))
        let keep = incompleteTail(pending)
        let ready = pending[..<(pending.count - keep)]
        let text = String(decoding: ready, as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }

    /// Whatever is left; an unfinished character becomes U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// How many bytes at the end start a UTF-8 character that is not complete yet.
    func incompleteTail(_ b: [UInt8]) -> Int {
        var i = b.count - 1
        var continuation = 0
        while i >= 0 && continuation < 3 && b[i] & 0xC0 == 0x80 {
            continuation += 1
            i -= 1
        }
        guard i >= 0 else { return 0 }
        let lead = b[i]
        let need = lead >= 0xF0 && lead < 0xF8 ? 4 : lead >= 0xE0 && lead < 0xF0 ? 3 : lead >= 0xC0 && lead < 0xE0 ? 2 : 1
        return need > continuation + 1 ? continuation + 1 : 0
    }
}
