import Foundation
import Testing
@testable import Engine

/// llama-perplexity's KL-divergence base format: the quantization of one position, the file's layout,
/// and the refusals of files that are not whole bases of this model.
struct KLDivergenceBaseTests {
    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("fw-kld-\(UUID().uuidString)-\(name)").path
    }

    /// Quantizes `logits` into a fresh record.
    static func record(_ logits: [Float], target: Int = 0) -> (record: [UInt16], nll: Double) {
        var out = [UInt16](repeating: 7, count: KLDivergenceBase.recordLength(vocabularySize: logits.count))
        let nll = logits.withUnsafeBufferPointer { l in
            out.withUnsafeMutableBufferPointer { KLDivergenceBaseWriter.quantize(l, target: target, into: $0) }
        }
        return (out, nll)
    }

    @Test func nearestIntRoundsHalfToEven() {
        #expect(KLDivergenceBaseWriter.nearestInt(0.5) == 0)
        #expect(KLDivergenceBaseWriter.nearestInt(1.5) == 2)
        #expect(KLDivergenceBaseWriter.nearestInt(2.5) == 2)
        #expect(KLDivergenceBaseWriter.nearestInt(65534.7) == 65535)
        #expect(KLDivergenceBaseWriter.nearestInt(-1.2) == -1)
    }

    @Test func aRecordSpansSixteenNatsBelowTheTop() {
        // max 2, min clamped to 2 - 16 = -14: steps of 16/65535; -30 lies below the span and stores 0.
        let logits: [Float] = [0, 1, 2, -30, 5 - 3]
        let (r, nll) = Self.record(logits, target: 1)
        #expect(r.count == 2 * 3 + 4)  // 5 tokens padded to 6
        let scale = Float(bitPattern: UInt32(r[0]) | UInt32(r[1]) << 16)
        let minLogProb = Float(bitPattern: UInt32(r[2]) | UInt32(r[3]) << 16)
        #expect(scale == Float(16) / 65535)
        let lse = log(exp(0.0) + exp(1.0) + 2 * exp(2.0) + exp(-30.0))
        #expect(abs(Double(minLogProb) - (-14 - lse)) < 1e-5)
        #expect(Array(r[4...]) == [57343, 61439, 65535, 0, 65535, 0])
        #expect(abs(nll - (lse - 1)) < 1e-5)
    }

    @Test func equalLogitsStoreZeros() {
        let (r, _) = Self.record([3, 3, 3, 3])
        #expect(Float(bitPattern: UInt32(r[0]) | UInt32(r[1]) << 16) == 0)
        #expect(r[4...].allSatisfy { $0 == 0 })
        let minLogProb = Float(bitPattern: UInt32(r[2]) | UInt32(r[3]) << 16)
        #expect(abs(minLogProb - -log(4)) < 1e-6)
    }

    /// Writes a base of `chunks` chunks of random logits; returns its path and the logits written.
    static func writeBase(contextLength: Int = 8, vocabularySize: Int = 5, chunks: Int = 2, seed: UInt64 = 3) throws -> (String, [[Float]]) {
        let path = temporaryPath("base.kld")
        var state = seed
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) * 8 - 4
        }
        let tokens = (0..<(contextLength * chunks)).map { Int32($0 % vocabularySize) }
        let w = try KLDivergenceBaseWriter(path: path, contextLength: contextLength, vocabularySize: vocabularySize, tokens: tokens[...])
        var written: [[Float]] = []
        for _ in 0..<(chunks * KLDivergenceBase.scoredPerChunk(contextLength: contextLength)) {
            let logits = (0..<vocabularySize).map { _ in next() }
            try logits.withUnsafeBufferPointer { _ = try w.append(logits: $0, target: 1) }
            written.append(logits)
        }
        try w.finish()
        return (path, written)
    }

    @Test func writtenBaseReadsBack() throws {
        let (path, written) = try Self.writeBase()
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(!FileManager.default.fileExists(atPath: path + ".part"))
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        // 8 + 12 header bytes, 16 tokens, 2 chunks × 3 positions × (4 + 6) u16.
        #expect(size == 20 + 16 * 4 + 2 * 3 * 10 * 2)
        #expect(size == KLDivergenceBase.fileBytes(contextLength: 8, vocabularySize: 5, chunks: 2))
        let base = try KLDivergenceBase(path: path)
        #expect(base.contextLength == 8 && base.vocabularySize == 5 && base.chunks == 2 && base.scoredPerChunk == 3)
        #expect(base.tokens == (0..<16).map { Int32($0 % 5) })
        for (n, logits) in written.enumerated() {
            let lse = log(logits.map { exp(Double($0)) }.reduce(0, +))
            base.withRecord(chunk: n / 3, position: n % 3) { r in
                for i in 0..<5 { #expect(abs(Double(r.logProb(i)) - (Double(logits[i]) - lse)) < 2e-4) }
            }
        }
    }

    @Test func filesThatAreNotWholeBasesAreRefused() throws {
        let (path, _) = try Self.writeBase()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: KLDivergenceBaseError.missing(path: "/nonexistent/base.kld")) { try KLDivergenceBase(path: "/nonexistent/base.kld") }
        #expect(throws: KLDivergenceBaseError.notABase(path: "x")) { try KLDivergenceBase(data: Data("_gguf___".utf8) + bytes.dropFirst(8), path: "x") }
        #expect(throws: KLDivergenceBaseError.notABase(path: "x")) { try KLDivergenceBase(data: Data("_log".utf8), path: "x") }
        #expect(throws: KLDivergenceBaseError.truncated(path: "x", expectedBytes: bytes.count, actualBytes: bytes.count - 1)) {
            try KLDivergenceBase(data: bytes.dropLast(), path: "x")
        }
        #expect(throws: KLDivergenceBaseError.truncated(path: "x", expectedBytes: 20, actualBytes: 14)) {
            try KLDivergenceBase(data: bytes.prefix(14), path: "x")
        }
        var zeroContext = bytes
        zeroContext.replaceSubrange(8..<12, with: [0, 0, 0, 0])
        #expect(throws: KLDivergenceBaseError.badHeader(path: "x", reason: "n_ctx 0")) { try KLDivergenceBase(data: zeroContext, path: "x") }
        var negativeChunks = bytes
        negativeChunks.replaceSubrange(16..<20, with: [0xff, 0xff, 0xff, 0xff])
        #expect(throws: KLDivergenceBaseError.badHeader(path: "x", reason: "n_chunk -1")) { try KLDivergenceBase(data: negativeChunks, path: "x") }
        let dir = FileManager.default.temporaryDirectory.path
        #expect(throws: KLDivergenceBaseError.unreadable(path: dir, reason: "it is a directory")) { try KLDivergenceBase(path: dir) }
        // Every prefix is refused with an error, never a crash.
        for n in stride(from: 0, to: bytes.count, by: 7) { #expect(throws: KLDivergenceBaseError.self) { try KLDivergenceBase(data: bytes.prefix(n), path: "x") } }
    }

    @Test func errorsAreOneLine() {
        let errors: [KLDivergenceBaseError] = [
            .vocabularyMismatch(path: "b", base: 49152, model: 262144), .tokenOutOfRange(path: "b", token: 70000, vocabularySize: 49152),
            .firstTokenIsNotBOS(path: "b", token: 5, bos: 1), .tokensDiffer(path: "b", text: "t.txt", position: 3),
            .truncated(path: "b", expectedBytes: 10, actualBytes: 9),
        ]
        for e in errors { #expect(!e.description.contains("\n") && e.description.contains("b")) }
    }
}
