import Compute
import Foundation
import GGUF
import Models
import Testing

/// A token's logits do not depend on the thread count, on how many sequences share its decode batch, or on
/// what those sequences are (issue 23, item 3), on every ISA this CPU runs: bit equality, not a tolerance.
/// `ISA.preferred` is chosen once per process, so each ISA runs in a child process (an exit test).
/// (Prefill chunking is a different matter: a prompt's logits in one prefill and token by token agree to
/// 1e-3, see ForwardPassTests.chunkedPrefillEqualsTokenByToken.)
@Suite(.serialized) struct DeterminismTests {
    /// The logits' bits of `prompt` (every position) and of `steps` greedy decode steps after it.
    static func run(_ model: any LanguageModel, _ prompt: [Int32], steps: Int) throws -> [[UInt32]] {
        let s = model.makeState(contextLength: 64, cacheType: .f16)
        var out: [[UInt32]] = []
        var next: Int32 = 0
        try model.evaluate(prompt, state: s, allLogits: true) { _, l in out.append(l.map(\.bitPattern)); next = BatchedDecodeTests.argmax(l) }
        for _ in 0..<steps {
            try model.evaluate([next], state: s, allLogits: false) { _, l in out.append(l.map(\.bitPattern)); next = BatchedDecodeTests.argmax(l) }
        }
        return out
    }

    /// Sequence 0's decode logits when it decodes alone, and in batches of `sizes` with other prompts in front of it.
    static func batchedBits(_ model: any LanguageModel, sizes: [Int]) throws -> [[UInt32]] {
        let prompts = BatchedDecodeTests.prompts(vocab: model.config.vocabSize, count: sizes.max()! + 1)
        var out: [[UInt32]] = []
        for size in [1] + sizes {
            // The watched prompt sits last; the others differ with the batch size.
            let batch = Array(prompts.dropFirst().prefix(size - 1)).reversed() + [prompts[0]]
            let states = batch.map { _ in model.makeState(contextLength: 64, cacheType: .f16) }
            for (p, s) in zip(batch, states) { try model.evaluate(p, state: s, allLogits: false) { _, _ in } }
            let workspace = model.makeWorkspace(rows: batch.count, contextLength: 64)
            var bits: [UInt32] = []
            for step in 0..<3 {
                try model.decode(batch.indices.map { Int32(5 + 17 * step + batch.count - 1 - $0) }, states: states, workspace: workspace) { i, l in
                    if i == batch.count - 1 { bits += l.map(\.bitPattern) }
                }
            }
            out.append(bits)
        }
        return out
    }

    @Test(arguments: ISA.allCases.filter(\.isSupported).map(\.rawValue))
    func logitsIgnoreThreadsAndBatch(isa: String) async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { [isa] in
            setenv("FEATHER_ISA", isa, 1)
            guard ISA.preferred.rawValue == isa else { exit(2) }
            for arch in [SyntheticModel.Architecture.llama, .gemma3] {
                var m = SyntheticModel(arch)
                m.seed = 17
                if arch == .gemma3 { m.layers = 6; m.slidingWindow = 8 }
                let path = FileManager.default.temporaryDirectory.appendingPathComponent("fw-determinism-\(UUID().uuidString).gguf").path
                try m.writer().write(to: path)
                defer { try? FileManager.default.removeItem(atPath: path) }
                let prompt: [Int32] = (0..<20).map { Int32(4 + ($0 * 41) % 250) }
                var byThreads: [[[UInt32]]] = [], byBatch: [[[UInt32]]] = []
                for threads in [1, 2, 3] {
                    let model = try ModelRegistry.load(file: GGUFFile(path: path), pool: try ThreadPool(threads: threads))
                    byThreads.append(try Self.run(model, prompt, steps: 4))
                    byBatch.append(try Self.batchedBits(model, sizes: [2, 5]))
                }
                if byThreads.contains(where: { $0 != byThreads[0] }) { FileHandle.standardError.write(Data("\(arch) \(isa): logits depend on the thread count\n".utf8)); exit(1) }
                let runs = byBatch.flatMap { $0 }
                if runs.contains(where: { $0 != runs[0] }) { FileHandle.standardError.write(Data("\(arch) \(isa): decode logits depend on the batch or threads\n".utf8)); exit(1) }
            }
        }
        if let result, !result.standardErrorContent.isEmpty { print(String(decoding: result.standardErrorContent, as: UTF8.self)) }
    }
}
