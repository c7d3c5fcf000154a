import Compute
import Foundation
import GGUF
import Testing

/// Random blocks for synthetic models: valid as a quantizer writes them, centred, with the asked spread.
struct SyntheticWeightsTests {
    @Test(arguments: [GGMLType.f16, .q4_0, .q5_0, .q8_0, .q4_K, .q5_K, .q6_K])
    func blocksAreValidAndHaveTheAskedSpread(type: GGMLType) throws {
        let (w, b) = type.blockLayout
        let blocks = 4096 / w * 16
        var bytes = [UInt8](repeating: 0, count: blocks * b)
        var g = try SyntheticWeights(type: type, sigma: 0.05, seed: 9)
        bytes.withUnsafeMutableBytes { g.fill($0) }
        var x = [Float](repeating: .nan, count: blocks * w)
        try bytes.withUnsafeBytes { try Compute.dequantize(type, from: $0.baseAddress!, to: &x, count: x.count) }
        #expect(x.allSatisfy { $0.isFinite })
        let mean = x.reduce(0, +) / Float(x.count)
        let sd = (x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(x.count)).squareRoot()
        #expect(abs(mean) < 0.01, "\(type.name): mean \(mean)")
        #expect(abs(sd - 0.05) < 0.01, "\(type.name): sd \(sd)")
        if type == .q8_0 {  // -128 never appears (ggml's quantizer writes -127...127)
            let bad = (0..<blocks).filter { k in bytes[(k * b + 2)..<(k * b + 34)].contains(0x80) }.count
            #expect(bad == 0)
        }
        // The same seed, filled in other chunk sizes, gives the same bytes.
        var again = [UInt8](repeating: 0, count: bytes.count)
        var h = try SyntheticWeights(type: type, sigma: 0.05, seed: 9)
        again.withUnsafeMutableBytes { p in
            h.fill(UnsafeMutableRawBufferPointer(rebasing: p[0..<(b * 4)]))
            h.fill(UnsafeMutableRawBufferPointer(rebasing: p[(b * 4)...]))
        }
        #expect(again == bytes, "\(type.name): chunking changed the bytes")
    }

    @Test func normsSitAroundTheirCentre() throws {
        var x = [Float](repeating: 0, count: 1000)
        var g = try SyntheticWeights(type: .f32, sigma: 0.02, seed: 1)
        x.withUnsafeMutableBytes { g.fill($0, center: 1) }
        #expect(x.allSatisfy { abs($0 - 1) < 0.04 })
        #expect(throws: ComputeError.self) { try SyntheticWeights(type: .iq2_xs, sigma: 1, seed: 1) }
    }
}
