import Foundation
import GGUF
import Testing
@testable import Models

func config(_ model: SyntheticModel, edit: (inout GGUFWriter) -> Void = { _ in }) throws -> ModelConfig {
    var w = try model.writer()
    edit(&w)
    return try ModelConfig(gguf: GGUFFile(bytes: w.serialized()))
}

@Suite struct ModelConfigTests {
    @Test func llamaDefaults() throws {
        let c = try config(SyntheticModel(.llama))
        #expect(c.architecture == "llama")
        #expect(c.headDim == 16 && c.valueHeadDim == 16)
        #expect(c.kvHeads == 2 && c.heads == 4)
        #expect(c.vocabSize == SyntheticModel.vocabulary.count)
        #expect(c.slidingWindow == nil && c.slidingLayerIndices.isEmpty)
        #expect(c.normEpsilon == Double(Float(1e-6)))
    }

    /// Mistral Small 3.1: head_dim 128 while n_embd / n_head is 160, keys under `mistral3.`, theta 1e9.
    @Test func mistralSmallHeadDimAndPrefix() throws {
        var m = SyntheticModel(.mistral3)
        m.embeddingWidth = 160
        m.heads = 1
        m.kvHeads = 1
        m.headDim = 128
        m.ropeBase = 1e9
        let c = try config(m)
        #expect(c.architecture == "mistral3")
        #expect(c.headDim == 128)
        #expect(c.embeddingWidth / c.heads == 160)
        #expect(c.ropeBase == 1e9)
        #expect(c.kvBytesPerTokenPerLayer() == 1 * (128 + 128) * 2)
    }

    /// Gemma 3: layer i is local iff i % 6 < 5; local RoPE base 10,000; the cache of local layers stops at the window.
    @Test func gemmaSlidingPattern() throws {
        var m = SyntheticModel(.gemma3)
        m.layers = 12
        m.slidingWindow = 16
        m.ropeBase = 1e6
        m.ropeScalingFactor = 8
        let c = try config(m)
        #expect(c.slidingLayerIndices == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10])
        #expect(c.localRopeBase == 10_000)
        #expect(c.ropeScalingType == "linear" && c.ropeScalingFactor == 8)
        let perLayer = c.kvBytesPerTokenPerLayer()
        #expect(c.kvCacheBytes(tokens: 10) == 12 * 10 * perLayer)
        #expect(c.kvCacheBytes(tokens: 100) == 2 * 100 * perLayer + 10 * 16 * perLayer)
    }

    @Test func perLayerHeadCountArrays() throws {
        let c = try config(SyntheticModel(.llama)) { w in w.set("llama.attention.head_count_kv", .array(.int32([2, 2]))) }
        #expect(c.kvHeads == 2)
        #expect(throws: ModelError.self) {
            try config(SyntheticModel(.llama)) { w in w.set("llama.attention.head_count_kv", .array(.int32([2, 1]))) }
        }
    }

    @Test func badHyperparametersAreTypedErrors() {
        #expect(throws: ModelError.badHyperparameter(key: "llama.attention.head_count_kv", reason: "3 does not divide the head count 4")) {
            try config(SyntheticModel(.llama)) { w in w.set("llama.attention.head_count_kv", uint32: 3) }
        }
        #expect(throws: ModelError.badHyperparameter(key: "llama.attention.head_count", reason: "must be positive, is 0")) {
            try config(SyntheticModel(.llama)) { w in w.set("llama.attention.head_count", uint32: 0) }
        }
        #expect(throws: ModelError.badHyperparameter(key: "llama.block_count", reason: "expected one integer")) {
            try config(SyntheticModel(.llama)) { w in w.set("llama.block_count", "two") }
        }
        var w = GGUFWriter()
        w.set("general.name", "no arch")
        #expect(throws: ModelError.missingArchitecture) { try ModelConfig(gguf: GGUFFile(bytes: w.serialized())) }
        w.set("general.architecture", "llama")
        #expect(throws: ModelError.missingHyperparameter("llama.context_length")) {
            try ModelConfig(gguf: GGUFFile(bytes: w.serialized()))
        }
    }

    @Test func locatorResolvesPathsAndShortNames() throws {
        let dir = "/tmp/feather-locator-\(UInt32.random(in: 0...UInt32.max))"
        let locator = ModelLocator(directory: dir)
        #expect(locator.localModels().isEmpty)
        #expect(throws: ModelError.self) { try locator.resolve("tiny") }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try SyntheticModel(.llama).writer().write(to: "\(dir)/tiny.gguf")
        #expect(try locator.resolve("tiny") == "\(dir)/tiny.gguf")
        #expect(try locator.resolve("\(dir)/tiny.gguf") == "\(dir)/tiny.gguf")
        #expect(locator.localModels().map(\.shortName) == ["tiny"])
        #expect(throws: ModelError.self) { try locator.resolve(dir) }  // a folder is not a model
    }
}
