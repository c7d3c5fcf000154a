import Foundation
import GGUF
import Models
import Testing
@testable import Weigh

@Suite struct CatalogTests {
    /// The configuration facts reproduce each publisher's parameter count exactly: text tensors (with the checkpoint's
    /// embedding rows) plus the vision encoder. A wrong width, layer count or head count would miss by millions.
    @Test(arguments: ModelCatalog.models.map(\.id))
    func parameterCountMatchesPublished(id: String) throws {
        let f = try #require(ModelCatalog.find(id))
        let text = WeightEstimate.textParameters(f, vocabRows: f.checkpointVocabSize)
        #expect(text + (f.visionParameters ?? 0) == f.publishedParameters, "\(id): computed \(text) + vision \(f.visionParameters ?? 0)")
    }

    @Test func catalogFacts() throws {
        let g = try #require(ModelCatalog.find("gemma3-27b"))
        let gemmaFacts: [Int] = [g.layers, g.embeddingWidth, g.heads, g.kvHeads, g.headDim, g.ffnWidth, g.vocabSize, g.contextLength]
        #expect(gemmaFacts == [62, 5376, 32, 16, 128, 21_504, 262_144, 131_072])
        #expect(g.slidingWindow == 1024)
        let m = try #require(ModelCatalog.find("Mistral-Small-3.1-24B"))
        let mistralFacts: [Int] = [m.layers, m.embeddingWidth, m.heads, m.kvHeads, m.headDim, m.ffnWidth, m.vocabSize, m.contextLength]
        #expect(mistralFacts == [40, 5120, 32, 8, 128, 32_768, 131_072, 131_072])
        #expect(m.slidingWindow == nil && m.modalities.contains("image") && g.modalities.contains("image"))
        #expect(ModelCatalog.find("gemma-3-1b")?.slidingWindow == 512)
        #expect(ModelCatalog.find("gemma-3-4b")?.slidingWindow == 1024)
        #expect(ModelCatalog.find("gemma-3-1b")?.modalities == ["text"])
        #expect(ModelCatalog.find("no-such-model") == nil)
    }

    /// The Q4_K_M recipe, applied to the catalog's Gemma 3 270M, gives every tensor of the Q4_K_M file that
    /// llama.cpp's quantizer wrote (.models/gemma3-270m.gguf) the same type and size: K-quant fallbacks for
    /// 640-wide rows (Q4_K → Q5_0, Q6_K → Q8_0) and the more-bits layers included.
    @Test func q4KMRecipeReproducesLlamaCppFile() throws {
        let path = "\(modelsDirectory)/gemma3-270m.gguf"
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("missing \(path); run scripts/fetch-models.sh")
            return
        }
        let file = try GGUFFile(path: path)
        let estimate = WeightEstimate(facts: try #require(ModelCatalog.find("gemma-3-270m")), recipe: .q4_k_m)
        let fileTypes = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, ($0.type, $0.byteSize)) })
        #expect(Set(fileTypes.keys) == Set(estimate.entries.map(\.tensor.name)))
        for e in estimate.entries {
            #expect(fileTypes[e.tensor.name]?.0 == e.type, "\(e.tensor.name)")
            #expect(fileTypes[e.tensor.name]?.1 == e.bytes, "\(e.tensor.name)")
        }
        #expect(WeightsSummary(file: file).bytes == estimate.bytes)
    }

    /// The recipes against llama.cpp's quantizer on synthetic models (Tests/Fixtures/fit/quant_recipes.json, from
    /// scripts/oracle/quant_recipe_fixtures.py): every tensor's type and byte size, for widths that are whole K-quant
    /// blocks and widths that are not, tied and untied outputs.
    @Test func recipesMatchLlamaCppQuantizer() throws {
        let data = try Data(contentsOf: repoRoot.appendingPathComponent("Tests/Fixtures/fit/quant_recipes.json"))
        let root = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let vocab = root["vocab"] as! Int
        let models = root["models"] as! [[String: Any]]
        #expect(models.count == 6)
        for m in models {
            let arch = m["architecture"] as! String, layers = m["layers"] as! Int, width = m["embedding"] as! Int
            let heads = m["heads"] as! Int
            let facts = ModelFacts(id: "synthetic-\(arch)", displayName: arch, architecture: arch, layers: layers, embeddingWidth: width,
                                   heads: heads, kvHeads: m["kv_heads"] as! Int, headDim: (m["head_dim"] as? Int) ?? width / heads,
                                   ffnWidth: m["ffn"] as! Int, vocabSize: vocab, contextLength: 256,
                                   tiedEmbeddings: arch == "gemma3", licence: nil, source: "synthetic")
            let recipe = try #require(QuantRecipe.parse(m["quant"] as! String))
            let estimate = WeightEstimate(facts: facts, recipe: recipe)
            let expected = Dictionary(uniqueKeysWithValues: (m["tensors"] as! [[String: Any]]).map {
                ($0["name"] as! String, ($0["type"] as! String, $0["bytes"] as! Int))
            })
            #expect(Set(expected.keys) == Set(estimate.entries.map(\.tensor.name)), "\(arch) \(recipe)")
            for e in estimate.entries {
                #expect(expected[e.tensor.name]?.0 == e.type.name.lowercased(), "\(arch) \(recipe) \(e.tensor.name)")
                #expect(expected[e.tensor.name]?.1 == e.bytes, "\(arch) \(recipe) \(e.tensor.name)")
            }
        }
    }

    /// Facts read from the GGUF agree with the catalog's published configuration.
    @Test(arguments: [("gemma3-270m", "gemma-3-270m"), ("smollm2-135m", "smollm2-135m")])
    func fileFactsMatchCatalog(file name: String, id: String) throws {
        let path = "\(modelsDirectory)/\(name).gguf"
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("missing \(path); run scripts/fetch-models.sh")
            return
        }
        let f = try ModelFacts(file: GGUFFile(path: path), id: name)
        let c = try #require(ModelCatalog.find(id))
        let fromFile: [Int] = [f.layers, f.embeddingWidth, f.heads, f.kvHeads, f.headDim, f.ffnWidth, f.vocabSize, f.contextLength]
        let published: [Int] = [c.layers, c.embeddingWidth, c.heads, c.kvHeads, c.headDim, c.ffnWidth, c.vocabSize, c.contextLength]
        #expect(fromFile == published)
        #expect(f.slidingWindow == c.slidingWindow && f.slidingLayers == c.slidingLayers && f.tiedEmbeddings == c.tiedEmbeddings)
        #expect(WeightEstimate.textParameters(f) == c.publishedParameters)
        // The engine's own KV-cache sizing (ModelConfig, sliding-window aware) agrees at and beyond the window.
        let config = try ModelConfig(gguf: GGUFFile(path: path))
        for n in [1, 100, 512, 513, 4096, c.contextLength] {
            #expect(f.kvCacheBytes(tokens: n) == config.kvCacheBytes(tokens: n), "\(name) at \(n)")
        }
    }
}
