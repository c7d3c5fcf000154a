import Engine
import Foundation
import GGUF
import Testing
@testable import Weigh

/// The kernel benchmark's and the synthetic model's doors, as `feather bench --kernels` and `feather synthesize` call them.
struct KernelBenchTests {
    @Test func unknownTypeIsNamed() {
        #expect(throws: UnknownName.type("q9_9")) { try KernelBench(isaName: "scalar", typeNames: ["q4_0", "q9_9"]) }
    }

    @Test func namedTypesAndDefaultThreads() throws {
        let bench = try KernelBench(isaName: "scalar", typeNames: ["q8_0", "f16"])
        #expect(bench.types == [.q8_0, .f16])
        #expect(bench.isaName == "scalar")
        #expect(KernelBench.defaultThreads == Array(Set([1, Engine.defaultThreads])).sorted())
    }

    @Test func syntheticModelFileWritesTheArchitecture() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("synthetic-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SyntheticModelFile.write(architecture: "gemma3", to: path, layers: 1, embeddingWidth: 32, heads: 2, kvHeads: 1, headDim: nil,
                                     ffnWidth: 64, contextLength: 128, ropeBase: 10_000, ropeScalingFactor: nil, slidingWindow: 8, seed: 3)
        let file = try GGUFFile(path: path)
        #expect(file.string("general.architecture") == "gemma3")
        #expect(throws: UnknownName.architecture("gpt2")) {
            try SyntheticModelFile.write(architecture: "gpt2", to: path, layers: 1, embeddingWidth: 32, heads: 2, kvHeads: 1, headDim: nil,
                                         ffnWidth: 64, contextLength: 128, ropeBase: 10_000, ropeScalingFactor: nil, slidingWindow: nil, seed: 3)
        }
    }
}
