@testable import Engine
import Foundation
import Grammar
import Testing
import Tokenizers

/// The token-level constraint on the embedded models' real vocabularies: the trie walk allows exactly
/// the tokens a one-by-one check allows, and constrained generations are JSON of the schema's shape.
struct TokenConstraintTests {
    static let models = ["smollm2-135m", "gemma3-270m"]

    /// Every token tested alone against the matcher's current state.
    func bruteForce(_ c: TokenConstraint) -> Set<TokenID> {
        var out = Set<TokenID>()
        for i in 0..<c.tokenizer.vocabularySize where !c.tokenizer.isEndOfGeneration(TokenID(i)) {
            if c.allows(TokenID(i)) { out.insert(TokenID(i)) }
        }
        return out
    }

    func trieWalk(_ c: TokenConstraint) -> Set<TokenID> {
        var allowed = [Bool](repeating: false, count: c.tokenizer.vocabularySize)
        let n = allowed.withUnsafeMutableBufferPointer { c.trie.mark(c.matcher, from: c.matcher.current, into: $0.baseAddress!) }
        let set = Set(allowed.indices.filter { allowed[$0] }.map { TokenID($0) })
        #expect(n == set.count)
        return set
    }

    @Test(.enabled(if: Needs.runs(models.allSatisfy { embeddedModelPath($0) != nil }), "needs the embedded models in .models (make models)"),
          arguments: models)
    func trieWalkAllowsExactlyTheTokensEachAloneWould(model: String) throws {
        let tokenizer = try Tokenizer(path: try #require(embeddedModelPath(model)))
        let schema = #"{"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}, "ok": {"type": "boolean"}}, "required": ["name", "n", "ok"]}"#
        let c = TokenConstraint(grammar: try StructuredOutput.jsonSchema(text: schema), tokenizer: tokenizer)
        // States along a valid output: the start, inside a key, inside a string value, a number, a literal, the end.
        for prefix in ["", #"{"na"#, #"{"name": "Ad"#, #"{"name": "Ada", "n": 4"#, #"{"name": "Ada", "n": 42, "ok": tr"#, #"{"name": "Ada", "n": 42, "ok": true}"#] {
            c.matcher.reset()
            #expect(c.matcher.accept(Array(prefix.utf8)), "\(prefix)")
            let walked = trieWalk(c)
            #expect(walked == bruteForce(c), "\(model) after \(prefix)")
        }
        // Whole: only whitespace may follow, and end-of-generation tokens are allowed.
        #expect(c.matcher.isAccepting)
        #expect(tokenizer.endOfGeneration.allSatisfy { c.allows($0) })
        #expect(!c.allows(try #require(tokenizer.tokenize("x", addSpecial: false).first)))
    }

    @Test(.enabled(if: Needs.runs(models.allSatisfy { embeddedModelPath($0) != nil }), "needs the embedded models in .models (make models)"))
    func tokenizersLoadedOneAfterAnotherGetTheirOwnTries() throws {
        // A freed tokenizer's address may be reused by the next one: the cache must not hand its trie on.
        for model in Self.models + Self.models {
            let tokenizer = try Tokenizer(path: try #require(embeddedModelPath(model)))
            let trie = VocabularyTrie.shared(for: tokenizer)
            #expect(trie.vocabularySize == tokenizer.vocabularySize)
            #expect(trie === VocabularyTrie.shared(for: tokenizer))
        }
    }

    @Test(.enabled(if: Needs.runs(models.allSatisfy { embeddedModelPath($0) != nil }), "needs the embedded models in .models (make models)"),
          arguments: models)
    func constrainedGenerationsAreJSONOfTheSchema(model: String) throws {
        let engine = try Engine(path: try #require(embeddedModelPath(model)), threads: 2, contextLength: 512)
        let schema = #"{"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}, "rank": {"type": "integer"}, "tags": {"type": "array", "items": {"enum": ["old", "big", "cold"]}, "maxItems": 2}}, "required": ["city", "rank", "tags"]}"#
        for (i, sampling) in [SamplingParameters.greedy, SamplingParameters(temperature: 0.9, topK: 0, topP: 1, minP: 0, seed: 7)].enumerated() {
            var request = GenerationRequest(prompt: engine.tokenize("A city I like:"), maxTokens: 120, sampling: sampling)
            request.grammar = try StructuredOutput.jsonSchema(text: schema)
            let result = try engine.generate(request)
            #expect(result.finishReason == .stop, "\(model) \(i): \(result.text)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.text.utf8)) as? [String: Any], "\(model): \(result.text)")
            #expect(Set(object.keys) == ["city", "rank", "tags"])
            #expect((object["city"] as? String).map { $0.count <= 20 } == true)
            #expect(object["rank"] is Int)
            #expect((object["tags"] as? [String]).map { $0.count <= 2 && Set($0).isSubset(of: ["old", "big", "cold"]) } == true)
            #expect(result.timings.constraintSeconds != nil)
        }
    }

    @Test(.enabled(if: Needs.runs(embeddedModelPath("smollm2-135m") != nil), "needs the embedded models in .models (make models)"))
    func greedyChoiceWithoutConflictIsTheModelsOwn() throws {
        // When the model's own greedy output already fits the grammar, the constraint changes nothing.
        let engine = try Engine(path: try #require(embeddedModelPath("smollm2-135m")), threads: 2, contextLength: 256)
        let prompt = engine.tokenize("The capital of France is")
        let free = try engine.generate(GenerationRequest(prompt: prompt, maxTokens: 6))
        var b = GrammarBuilder()
        b.rule("root", [GrammarBuilder.literal(free.text)])
        var request = GenerationRequest(prompt: prompt, maxTokens: 6)
        request.grammar = try b.build(root: "root")
        let held = try engine.generate(request)
        #expect(held.tokens.map(\.id) == free.tokens.map(\.id))
    }
}
