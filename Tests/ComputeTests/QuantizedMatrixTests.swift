import CKernels
import Compute
import GGUF
import Testing

struct QuantizedMatrixTests {
    /// A tensor read from a GGUF file: shape [cols, rows] in ggml order, rows of whole blocks.
    @Test func fromGGUFTensor() throws {
        var rng = SeededRandom(seed: 0x66)
        let cols = 64, rows = 3
        let bytes = randomWeights(.q8_0, count: rows * cols, rng: &rng)
        var writer = GGUFWriter()
        writer.set("general.architecture", "llama")
        try writer.addTensor(name: "w", shape: [cols, rows], type: .q8_0, data: bytes)
        let file = try GGUFFile(bytes: writer.serialized())
        let m = try QuantizedMatrix(file: file, tensor: "w")
        #expect(m.rows == rows && m.cols == cols && m.type == .q8_0 && m.rowBytes == 68)
        #expect(m.activationType == .q8_0)
        // Row 2 dequantizes to the bytes we wrote.
        var expected = [Float](repeating: 0, count: cols)
        try bytes.withUnsafeBytes { try Compute.dequantize(.q8_0, from: $0.baseAddress! + 2 * 68, to: &expected, count: cols) }
        #expect(m.dequantizedRow(2) == expected)
        var row = [Float](repeating: .nan, count: cols)
        m.dequantizeRow(2, into: &row)
        #expect(row == expected)
        // And matvec with a one-hot x picks column 5 of every row, up to the Q8_0 activation scale
        // 1/127 stored as fp16 (relative error below 2^-11).
        var x = [Float](repeating: 0, count: cols)
        x[5] = 1
        var y = [Float](repeating: 0, count: rows)
        try Compute.matvec(weights: m, x: x, y: &y, pool: try ThreadPool(threads: 1))
        for r in 0..<rows {
            #expect(abs(y[r] - m.dequantizedRow(r)[5]) <= 0x1p-11 * abs(y[r]))
        }
    }

    @Test func missingOrUnsupportedTensorsThrow() throws {
        var writer = GGUFWriter()
        writer.set("general.architecture", "llama")
        let file = try GGUFFile(bytes: writer.serialized())
        #expect(throws: (any Error).self) { try QuantizedMatrix(file: file, tensor: "absent") }
    }
}
