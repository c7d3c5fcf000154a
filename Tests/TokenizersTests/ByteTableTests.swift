import Testing
@testable import Tokenizers

@Suite struct ByteTableTests {
    @Test func agreesWithDictionaryOnRandomKeys() {
        var rng = SystemRandomNumberGenerator()
        var table = ByteTable(capacity: 4)
        var reference: [[UInt8]: Int32] = [:]
        for i in 0..<5000 {
            let key = (0..<Int.random(in: 0...12, using: &rng)).map { _ in UInt8.random(in: 0...3, using: &rng) }
            let stored = table.insert(key, value: Int32(i))
            if let old = reference[key] { #expect(stored == old) } else { reference[key] = Int32(i); #expect(stored == Int32(i)) }
        }
        for (k, v) in reference { #expect(table.lookup(k) == v) }
        #expect(table.lookup([9, 9, 9]) == -1)
        #expect(table.count == reference.count)
    }

    @Test func keysAreBytesNotCanonicalStrings() {
        var table = ByteTable()
        table.insert(Array("é".utf8), value: 1)
        table.insert(Array("e\u{301}".utf8), value: 2)
        #expect(table.lookup(Array("é".utf8)) == 1 && table.lookup(Array("e\u{301}".utf8)) == 2)
    }

    @Test func pairTableFirstInsertionWins() {
        var p = PairTable(capacity: 1)
        for i in 0..<1000 { p.insertIfAbsent(UInt64(i) * 7919, UInt64(i)) }
        p.insertIfAbsent(7919, 42)
        #expect(p.get(7919) == 1 && p.get(999 * 7919) == 999 && p.get(3) == nil && p.count == 1000)
    }
}

@Suite struct ByteLevelTests {
    @Test func mapsEveryByteToADistinctCharacterAndBack() {
        #expect(Set(ByteLevel.codePoints).count == 256)
        #expect(ByteLevel.codePoints[0x20] == 0x120 && ByteLevel.codePoints[0x0A] == 0x10A && ByteLevel.codePoints[0x41] == 0x41)
        for b in 0..<256 { #expect(ByteLevel.decode(ByteLevel.encoded[b]) == [UInt8(b)]) }
    }

    @Test func unmappedCharactersKeepLlamaCppsMarker() {
        #expect(String(decoding: ByteLevel.decode(Array("a€".utf8)), as: UTF8.self) == "a[UNK_BYTE_0xe282aca€]")
    }
}

@Suite struct UnicodeClassTests {
    @Test func categories() {
        #expect(UnicodeClass.of(0x41) == .letter)
        #expect(UnicodeClass.of(0x65E5) == .letter)        // 日
        #expect(UnicodeClass.of(0x0663) == .number)        // Arabic-Indic 3
        #expect(UnicodeClass.of(0x00B2) == .number)        // superscript two
        #expect(UnicodeClass.of(0x20) == .whitespace)
        #expect(UnicodeClass.of(0x3000) == .whitespace)
        #expect(UnicodeClass.of(0x0085) == .whitespace)
        #expect(UnicodeClass.of(0x1C) == [])               // not White_Space
        #expect(UnicodeClass.of(0x200B) == [])             // zero width space is a format character
        #expect(UnicodeClass.of(0x0301) == .mark)
        #expect(UnicodeClass.of(0x21) == .punctuation)
        #expect(UnicodeClass.of(0x24) == .symbol)
        #expect(UnicodeClass.of(0x1F600) == .symbol)       // 😀
        #expect(UnicodeClass.of(0x10FFFF) == [])
        #expect(UnicodeClass.of(0x2EBF0) == .letter)       // CJK Extension I, Unicode 15.1
        #expect(UnicodeClass.of(0x13460) == [])            // Egyptian Hieroglyphs Ext-A, Unicode 16: unassigned to llama.cpp
    }
}
