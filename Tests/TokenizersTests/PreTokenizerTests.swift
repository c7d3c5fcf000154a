import Testing
@testable import Tokenizers

struct PreTokenizerFixture: Decodable {
    let id: Int
    let `default`: [String]
    let gpt2: [String]
    let smollm: [String]
    let llama3: [String]
    let qwen2: [String]
    let tekken: [String]

    func words(_ p: PreTokenizer) -> [String] {
        switch p {
        case .default: `default`
        case .gpt2: gpt2
        case .smollm: smollm
        case .llama3: llama3
        case .qwen2: qwen2
        case .tekken: tekken
        }
    }
}

@Suite struct PreTokenizerTests {
    /// Every pre-tokenizer splits every corpus text as Python's `regex` does with llama.cpp's patterns
    /// (fixture: scripts/oracle/pretokenizer_fixtures.py).
    @Test(arguments: PreTokenizer.allCases)
    func matchesRegexOracle(_ pre: PreTokenizer) throws {
        let corpus = try Fixtures.corpus()
        let fixtures = try Fixtures.jsonLines("pretokenizer.jsonl", as: PreTokenizerFixture.self)
        #expect(corpus.count == fixtures.count)
        var failures = 0
        for (item, fx) in zip(corpus, fixtures) {
            let got = pre.words(item.text).map(scalars)
            let want = fx.words(pre).map(scalars)
            if got != want {
                failures += 1
                if failures <= 5 {
                    Issue.record("\(pre) text \(item.id) \(item.text.debugDescription): got \(pre.words(item.text)), want \(fx.words(pre))")
                }
            }
        }
        #expect(failures == 0)
    }

    @Test func contractionsAreCaseSensitiveInGPT2AndNotInLlama3() {
        #expect(PreTokenizer.gpt2.words("IT'S it's") == ["IT", "'", "S", " it", "'s"])
        #expect(PreTokenizer.llama3.words("IT'S it's") == ["IT", "'S", " it", "'s"])
    }

    @Test func digitGrouping() {
        #expect(PreTokenizer.llama3.words("1234567") == ["123", "456", "7"])
        #expect(PreTokenizer.qwen2.words("123") == ["1", "2", "3"])
        #expect(PreTokenizer.smollm.words("a 123") == ["a", " ", "1", "2", "3"])
        #expect(PreTokenizer.gpt2.words("a 123") == ["a", " 123"])
        #expect(PreTokenizer.default.words("12345") == ["123", "45"])
    }

    @Test func whitespaceBeforeWordsKeepsOneSpaceForTheWord() {
        #expect(PreTokenizer.gpt2.words("a   b") == ["a", "  ", " b"])
        #expect(PreTokenizer.llama3.words("a  \n\n  b") == ["a", "  \n\n", " ", " b"])
        #expect(PreTokenizer.llama3.words("x \n y") == ["x", " \n", " y"])
    }

    @Test func tekkenSplitsCamelCase() {
        #expect(PreTokenizer.tekken.words("HelloWorld HTTPServer") == ["Hello", "World", " HTTPServer"])
    }

    @Test func namesMapLikeLlamaCpp() {
        #expect(PreTokenizer(ggufName: "llama-bpe") == .llama3)
        #expect(PreTokenizer(ggufName: "smollm") == .smollm)
        #expect(PreTokenizer(ggufName: "qwen2") == .qwen2)
        #expect(PreTokenizer(ggufName: "tekken") == .tekken)
        #expect(PreTokenizer(ggufName: "gpt-2") == .gpt2)
        #expect(PreTokenizer(ggufName: "") == .default)
        #expect(PreTokenizer(ggufName: "no-such-thing") == nil)
    }
}
