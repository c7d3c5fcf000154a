import Foundation
import GGUF
import Testing
@testable import Weigh

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let modelsDirectory = ProcessInfo.processInfo.environment["FEATHER_MODELS"] ?? repoRoot.appendingPathComponent(".models").path

func fixture(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: repoRoot.appendingPathComponent("Tests/Fixtures/inspect/\(name).json"))
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

/// `feather inspect` against the `gguf` Python package reading the same files
/// (Tests/Fixtures/inspect/*.json, made by scripts/oracle/inspect_fixture.py).
@Suite struct InspectionTests {
    @Test(arguments: ["gemma3-270m", "smollm2-135m"])
    func matchesGGUFPackage(model: String) throws {
        let path = "\(modelsDirectory)/\(model).gguf"
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("missing \(path); run scripts/fetch-models.sh")
            return
        }
        let expected = try fixture(model)
        let file = try GGUFFile(path: path)
        let m = ModelInspection(file: file)

        #expect(m.fileSize == expected["file_bytes"] as? Int)
        #expect(m.ggufVersion == expected["gguf_version"] as? Int)
        #expect(file.alignment == expected["alignment"] as? Int)
        #expect(file.dataOffset == expected["data_offset"] as? Int)
        #expect(file.metadata.count == expected["kv_count"] as? Int)
        #expect(m.tensorCount == expected["tensor_count"] as? Int)
        #expect(m.parameterCount == expected["parameter_count"] as? Int)

        let general = expected["general"] as! [String: Any]
        #expect(m.architecture == general["architecture"] as? String)
        #expect(m.name == general["name"] as? String)
        #expect(m.sizeLabel == general["size_label"] as? String)
        #expect(m.license == general["license"] as? String)
        #expect("MOSTLY_" + (m.fileType ?? "") == general["file_type_name"] as? String)

        let types = expected["tensor_types"] as! [String: [String: Any]]
        #expect(Set(m.quantization.map(\.type)) == Set(types.keys))
        for share in m.quantization {
            #expect(share.tensors == types[share.type]?["tensors"] as? Int, "\(share.type)")
            #expect(share.bytes == types[share.type]?["bytes"] as? Int, "\(share.type)")
        }

        let arch = m.architecture!
        let hp = expected["hyperparameters"] as! [String: Any]
        #expect(m.contextLength == hp["\(arch).context_length"] as? Int)
        #expect(m.embeddingWidth == hp["\(arch).embedding_length"] as? Int)
        #expect(m.layers == hp["\(arch).block_count"] as? Int)
        #expect(m.ffnWidth == hp["\(arch).feed_forward_length"] as? Int)
        #expect(m.heads == hp["\(arch).attention.head_count"] as? Int)
        #expect(m.kvHeads == hp["\(arch).attention.head_count_kv"] as? Int)
        #expect(m.headDim == (hp["\(arch).attention.key_length"] as? Int ?? m.embeddingWidth! / m.heads!))
        #expect(m.ropeBase == hp["\(arch).rope.freq_base"] as? Double)
        #expect(m.slidingWindow == hp["\(arch).attention.sliding_window"] as? Int)

        let tok = expected["tokenizer"] as! [String: Any]
        #expect(m.tokenizerModel == tok["model"] as? String)
        #expect(m.tokenizerPre == tok["pre"] as? String)
        #expect(m.vocabSize == tok["vocab_size"] as? Int)
        #expect(m.hasChatTemplate == tok["has_chat_template"] as? Bool)
        #expect(m.chatTemplate == ["gemma3-270m": "built-in gemma", "smollm2-135m": "model"][model])

        // Every metadata entry as the gguf package read it: scalars by value, arrays by type and count.
        let metadata = expected["metadata"] as! [String: Any]
        for (key, value) in metadata {
            guard let ours = file[key] else { Issue.record("missing key \(key)"); continue }
            switch value {
            case let d as [String: Any]:
                #expect(ours.array?.count == d["count"] as? Int, "\(key)")
                #expect("\(ours.array?.elementType ?? .uint8)" == d["array_type"] as? String, "\(key)")
            case let s as String:
                #expect(ours.string == s, "\(key)")
            case let n as NSNumber where ours.type == .bool:
                #expect(ours.bool == n.boolValue, "\(key)")
            case let n as NSNumber:
                #expect(ours.double == n.doubleValue, "\(key)")
            default:
                Issue.record("unexpected fixture value for \(key)")
            }
        }
    }

    /// Gemma 3: five sliding-window layers, then one global; the cache of the local layers stops at the window.
    @Test func gemmaSlidingWindowLayersAndKVCache() throws {
        let path = "\(modelsDirectory)/gemma3-270m.gguf"
        guard FileManager.default.fileExists(atPath: path) else {
            Issue.record("missing \(path); run scripts/fetch-models.sh")
            return
        }
        let m = ModelInspection(file: try GGUFFile(path: path))
        #expect(m.slidingWindowLayers == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16])
        #expect(m.ropeBaseLocal == 10_000)
        // 1 KV head × (256 + 256) × 2 bytes = 1 KiB per layer per token.
        let kv = try #require(m.kvCache)
        #expect(kv.bytesPerTokenGlobalLayers == 3 * 1024)
        #expect(kv.bytesPerTokenSlidingLayers == 15 * 1024)
        #expect(kv.bytesAtContextLength == 3 * 1024 * 32768 + 15 * 1024 * 512)
        #expect(kv.naiveBytesAtContextLength == 18 * 1024 * 32768)
    }

    @Test func ggmlTypeSizesMatchGGUFPackage() throws {
        let types = try fixture("ggml_type_sizes")["types"] as! [[String: Any]]
        #expect(types.count == GGMLType.allCases.count)
        for t in types {
            let id = UInt32(t["id"] as! Int)
            guard let ours = GGMLType(rawValue: id) else { Issue.record("type \(id) unknown"); continue }
            #expect(ours.name == t["name"] as? String)
            #expect(ours.blockLayout.weights == t["block_size"] as? Int, "\(ours.name)")
            // gguf-py still lists Q8_1 with f32 d and s (40 bytes); ggml's block_q8_1 holds two fp16 (36 bytes).
            // Q8_1 is an activation-only type that never appears in files.
            #expect(ours.blockLayout.bytes == (ours == .q8_1 ? 36 : t["type_size"] as? Int), "\(ours.name)")
        }
    }
}

@Suite struct FormatTests {
    @Test func bytes() {
        #expect(Format.bytes(512) == "512 B")
        #expect(Format.bytes(1536) == "1.50 KiB")
        #expect(Format.bytes(253_113_024) == "241.39 MiB")
    }

    @Test func counts() {
        #expect(Format.count(268_098_176) == "268.1M")
        #expect(Format.count(24_000_000_000) == "24.00B")
        #expect(Format.number(10_000) == "10000")
    }
}
