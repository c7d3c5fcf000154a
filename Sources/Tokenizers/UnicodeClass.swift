/// The character classes the pre-tokenizer patterns use, one byte per code point. llama.cpp
/// (src/unicode.cpp, unicode-data.cpp) classifies by Unicode general category: \p{L} letter,
/// \p{N} number, \p{P} punctuation, \p{M} mark, \p{S} symbol; `\s` is the White_Space property.
struct UnicodeClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = UnicodeClass(rawValue: 1)
    static let number = UnicodeClass(rawValue: 2)
    static let whitespace = UnicodeClass(rawValue: 4)
    static let punctuation = UnicodeClass(rawValue: 8)
    static let mark = UnicodeClass(rawValue: 16)
    static let symbol = UnicodeClass(rawValue: 32)

    /// Classes of the first planes, computed once; higher code points are classified on the fly.
    private static let table: [UInt8] = (0..<tableSize).map { compute(UInt32($0)).rawValue }
    private static let tableSize = 0x30000
    static let llamaCppUnicodeVersion = (15, 1)

    @inline(__always)
    static func of(_ cp: UInt32) -> UnicodeClass {
        if cp < UInt32(tableSize) {
            return table.withUnsafeBufferPointer { UnicodeClass(rawValue: $0[Int(cp)]) }
        }
        return compute(cp)
    }

    static func compute(_ cp: UInt32) -> UnicodeClass {
        guard let s = Unicode.Scalar(cp) else { return [] }
        let p = s.properties
        // llama.cpp's tables (unicode-data.cpp) are Unicode 15.1: code points assigned later are
        // unassigned there, and so classless here (checked against llama.cpp: Egyptian Hieroglyphs
        // Extended-A, Unicode 16, is no letter to it).
        guard let age = p.age, (age.major, age.minor) <= llamaCppUnicodeVersion else { return [] }
        var c: UnicodeClass = []
        if p.isWhitespace { c.insert(.whitespace) }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            c.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            c.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            c.insert(.punctuation)
        case .nonspacingMark, .spacingMark, .enclosingMark:
            c.insert(.mark)
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            c.insert(.symbol)
        default:
            break
        }
        return c
    }
}
