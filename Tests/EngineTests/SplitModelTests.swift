import Engine
import Foundation
import GGUF
import Testing

/// A GGUF split as llama.cpp's llama-gguf-split writes it (PREFIX-0000i-of-0000N.gguf; the first file
/// holds the metadata, every file `split.no`, `split.count`, `split.tensors.count`) loads as one model.
@Suite(.serialized) struct SplitModelTests {
    /// SmolLM2 written as `parts` files, in a fresh folder; returns the first part's path.
    static func split(_ source: String, parts: Int, into dir: String) throws -> String {
        let file = try GGUFFile(path: source)
        let perPart = (file.tensors.count + parts - 1) / parts
        for p in 0..<parts {
            var w = GGUFWriter(alignment: file.alignment)
            if p == 0 { for (key, value) in file.metadata { w.set(key, value) } }
            w.set("split.no", .uint16(UInt16(p)))
            w.set("split.count", .uint16(UInt16(parts)))
            w.set("split.tensors.count", .int32(Int32(file.tensors.count)))
            for t in file.tensors[(p * perPart)..<min(file.tensors.count, (p + 1) * perPart)] {
                try w.addTensor(name: t.name, shape: t.shape, type: t.type, data: Array(file.data(of: t)))
            }
            try w.write(to: "\(dir)/smol-\(String(format: "%05d", p + 1))-of-\(String(format: "%05d", parts)).gguf")
        }
        return "\(dir)/smol-00001-of-\(String(format: "%05d", parts)).gguf"
    }

    @Test(.enabled(if: Needs.runs(embeddedModelPath("smollm2-135m") != nil), "needs the embedded models in .models (make models)"))
    func splitModelGeneratesAsTheWholeFile() throws {
        let whole = try #require(embeddedModelPath("smollm2-135m"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fw-split-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try Self.split(whole, parts: 3, into: dir)

        let joined = try GGUFFile(path: first), original = try GGUFFile(path: whole)
        #expect(joined.partCount == 3)
        #expect(joined.tensors.map(\.name) == original.tensors.map(\.name))
        for t in original.tensors {
            let j = try #require(joined.tensor(named: t.name))
            #expect(j.shape == t.shape && j.type == t.type)
            #expect(Array(joined.data(of: j)) == Array(original.data(of: t)), "\(t.name)")
        }

        var request = GenerationRequest(prompt: [], maxTokens: 8, topLogprobs: 2)
        let a = try Engine(path: whole, threads: 2, contextLength: 128), b = try Engine(path: first, threads: 2, contextLength: 128)
        request.prompt = a.tokenize("The three primary colours are")
        let x = try a.generate(request), y = try b.generate(request)
        #expect(x.tokens == y.tokens)

        // Not the first part, or a part missing: one clear error each.
        #expect(throws: GGUFError.self) { try GGUFFile(path: "\(dir)/smol-00002-of-00003.gguf") }
        do {
            _ = try GGUFFile(path: "\(dir)/smol-00002-of-00003.gguf")
        } catch {
            #expect(error.description.contains("part 2 of 3; give the first part"), "\(error)")
        }
        try FileManager.default.removeItem(atPath: "\(dir)/smol-00003-of-00003.gguf")
        do {
            _ = try GGUFFile(path: first)
            Issue.record("a split model with a missing part loaded")
        } catch {
            #expect(error.description.contains("part 3 of 3 is missing"), "\(error)")
        }
    }
}
