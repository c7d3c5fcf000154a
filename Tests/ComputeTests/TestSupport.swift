import CKernels
import Compute
import Foundation
import GGUF
import Testing

/// Tests/Fixtures/quants, written by scripts/oracle/quant_fixtures.py.
let quantFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/quants")

func fixtureBytes(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: quantFixtures.appendingPathComponent(name)))
}

func fixtureFloats(_ name: String) throws -> [Float] {
    let bytes = try fixtureBytes(name)
    return bytes.withUnsafeBytes { raw in
        (0..<(bytes.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
    }
}

/// Quantizes x to `type` (q8_0, q8_1, q8_K, or f32) into `dst` with the kernel of `isa`.
func quantize(_ x: [Float], to type: GGMLType, into dst: UnsafeMutableRawPointer, isa: ISA) {
    #expect(fw_quantize_row(isa.raw, Int32(type.rawValue), x, dst, Int64(x.count)) == FW_OK, "\(type.name) on \(isa)")
}

/// The ISAs this machine can run, scalar first.
let runnableISAs: [ISA] = ISA.allCases.filter(\.isSupported)

/// A seeded generator so failures reproduce (SplitMix64).
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Byte offsets of the fp16 scale fields in one block (ggml-common.h block structs).
func halfFields(_ type: GGMLType) -> [Int] {
    switch type {
    case .q4_0, .q5_0, .q8_0: [0]
    case .q4_1, .q5_1, .q4_K, .q5_K: [0, 2]
    case .q2_K: [80, 82]
    case .q3_K: [108]
    case .q6_K: [208]
    default: []
    }
}

/// Random blocks of a quantized weight type with fp16 scales of moderate size.
func randomWeights(_ type: GGMLType, count: Int, rng: inout SeededRandom, scale: ClosedRange<Float> = -0.05...0.05) -> [UInt8] {
    let (w, b) = type.blockLayout
    switch type {
    case .f32:
        return (0..<count).flatMap { _ in withUnsafeBytes(of: Float.random(in: -1...1, using: &rng).bitPattern.littleEndian) { Array($0) } }
    case .f16:
        return (0..<count).flatMap { _ in withUnsafeBytes(of: fw_fp32_to_fp16(Float.random(in: -1...1, using: &rng)).littleEndian) { Array($0) } }
    case .bf16:
        return (0..<count).flatMap { _ in withUnsafeBytes(of: UInt16(Float.random(in: -1...1, using: &rng).bitPattern >> 16).littleEndian) { Array($0) } }
    default:
        var bytes = (0..<(count / w * b)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for block in 0..<(count / w) {
            for f in halfFields(type) {
                let h = fw_fp32_to_fp16(Float.random(in: scale, using: &rng))
                bytes[block * b + f] = UInt8(h & 0xFF)
                bytes[block * b + f + 1] = UInt8(h >> 8)
            }
        }
        return bytes
    }
}

func randomFloats(_ n: Int, rng: inout SeededRandom, range: ClosedRange<Float> = -1...1) -> [Float] {
    (0..<n).map { _ in Float.random(in: range, using: &rng) }
}
