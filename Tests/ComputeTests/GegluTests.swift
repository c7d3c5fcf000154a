import Compute
import Foundation
import Testing

@Suite struct GegluTests {
    /// The AVX2 (F16C) path of the fp16-table GEGLU gives the scalar twin's bits, cut-offs and odd inputs included.
    @Test(.enabled(if: ISA.avx2.isSupported, "this CPU has no AVX2")) func avx2EqualsScalar() throws {
        var rng = SystemRandomNumberGenerator()
        var gate: [Float] = [-10, 10, -10.000001, 9.999999, -9.999999, 10.000001, 0, -0.0, 1e-8, -1e-8, 6e-5, -6e-5,
                             .nan, .infinity, -.infinity, 65504, -65520, 3.0e-41, 0.5, -0.5]
        for _ in 0..<20_000 { gate.append(Float.random(in: -12...12, using: &rng)) }
        for _ in 0..<2_000 { gate.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))) }
        gate.append(contentsOf: [1.25, -3.5, 7])  // a tail that is not a multiple of 8
        let up = (0..<gate.count).map { _ in Float.random(in: -4...4, using: &rng) }
        var scalar = gate, vector = gate
        scalar.withUnsafeMutableBufferPointer { Compute.geglu($0.baseAddress!, up, count: $0.count, isa: .scalar) }
        vector.withUnsafeMutableBufferPointer { Compute.geglu($0.baseAddress!, up, count: $0.count, isa: .avx2) }
        let mismatches = zip(scalar, vector).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
        #expect(mismatches.count == 0, "first: \(mismatches.prefix(3).map { (gate[$0.offset], $0.element.0, $0.element.1) })")
        // Values the table path must produce (not the cut-offs): GELU(1) ~ 0.8412, GELU(-1) ~ -0.1588.
        var probe: [Float] = [1, -1, 1, -1, 1, -1, 1, -1]
        probe.withUnsafeMutableBufferPointer { Compute.geglu($0.baseAddress!, [Float](repeating: 1, count: 8), count: 8, isa: .avx2) }
        #expect(probe.enumerated().allSatisfy { abs($0.element - ($0.offset % 2 == 0 ? 0.8412 : -0.1588)) < 1e-3 })
    }
}
