import CKernels
import GGUF

/// A row-major matrix whose rows are stored in a GGUF tensor type, e.g. a memory-mapped weight.
/// It does not own its memory: the GGUF file (or buffer) must outlive it.
public struct QuantizedMatrix: @unchecked Sendable {
    public let type: GGMLType
    public let rows: Int
    public let cols: Int
    public let data: UnsafeRawPointer
    /// Bytes from one row to the next.
    public let rowBytes: Int

    public init(type: GGMLType, rows: Int, cols: Int, data: UnsafeRawPointer) throws(ComputeError) {
        guard fw_vec_dot_type(Int32(type.rawValue)) >= 0 else { throw .unsupportedType(type) }
        let size = fw_row_size(Int32(type.rawValue), Int64(cols))
        guard rows >= 0, cols > 0, size > 0 else {
            throw .shape("\(cols) columns is not a whole number of \(type.name) blocks")
        }
        self.type = type
        self.rows = rows
        self.cols = cols
        self.data = data
        self.rowBytes = Int(size)
    }

    /// The 2-D tensor `name` of a GGUF file: ggml's ne0 (shape[0]) is the row length.
    public init(file: GGUFFile, tensor name: String) throws {
        let (info, bytes) = try file.computableData(of: name)
        guard info.shape.count >= 1, let base = bytes.baseAddress else {
            throw ComputeError.shape("tensor \(name) is empty")
        }
        let cols = info.shape[0]
        let rows = info.shape.dropFirst().reduce(1, *)
        try self.init(type: info.type, rows: rows, cols: cols, data: base)
        guard rowBytes * rows <= bytes.count else {
            throw ComputeError.shape("tensor \(name) is shorter than \(rows) rows of \(cols)")
        }
    }

    /// The activation type a row of this matrix is multiplied with.
    public var activationType: GGMLType {
        GGMLType(rawValue: UInt32(fw_vec_dot_type(Int32(type.rawValue))))!
    }

    /// Row `r` as f32 into `out` (cols values), e.g. a token's embedding.
    public func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(r >= 0 && r < rows)
        fw_dequantize_row(Int32(type.rawValue), data + r * rowBytes, out, Int64(cols))
    }

    /// Rows `indices` as f32, one after another into `out` (an embedding lookup).
    public func dequantizeRows(_ indices: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<Float>) {
        for (i, r) in indices.enumerated() { dequantizeRow(Int(r), into: out + i * cols) }
    }

    /// Row `r` as f32.
    public func dequantizedRow(_ r: Int) -> [Float] {
        precondition(r >= 0 && r < rows)
        return [Float](unsafeUninitializedCapacity: cols) { buf, n in
            fw_dequantize_row(Int32(type.rawValue), data + r * rowBytes, buf.baseAddress, Int64(cols))
            n = cols
        }
    }
}
