#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes GGUF version 3 files: any metadata, tensors in any type whose raw bytes the caller gives.
/// Used to make small synthetic models with the shapes and metadata quirks of large ones.
public struct GGUFWriter: Sendable {
    public struct Tensor: Sendable {
        public var name: String
        public var shape: [Int]
        public var type: GGMLType
        public var data: [UInt8]
    }

    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    public private(set) var tensors: [Tensor] = []
    public var alignment: Int

    public init(alignment: Int = GGUFFile.defaultAlignment) {
        self.alignment = alignment
    }

    /// Adds or replaces a metadata entry, keeping the first position of the key.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.key == key }) {
            metadata[i].value = value
        } else {
            metadata.append((key, value))
        }
    }

    public mutating func set(_ key: String, _ value: String) { set(key, .string(value)) }
    public mutating func set(_ key: String, uint32 value: Int) { set(key, .uint32(UInt32(value))) }
    public mutating func set(_ key: String, float32 value: Float) { set(key, .float32(value)) }
    public mutating func set(_ key: String, _ value: Bool) { set(key, .bool(value)) }

    /// Adds a tensor; `data` must hold exactly the bytes its shape and type take.
    public mutating func addTensor(name: String, shape: [Int], type: GGMLType, data: [UInt8]) throws(GGUFError) {
        guard !tensors.contains(where: { $0.name == name }) else { throw .duplicateTensor(name) }
        guard (1...GGUFFile.maxDimensions).contains(shape.count), shape.allSatisfy({ $0 >= 0 }) else {
            throw .badTensorDimensions(name: name, reason: "has shape \(shape)")
        }
        let elements = shape.reduce(1, *)
        guard shape[0] % type.blockLayout.weights == 0, let bytes = type.byteSize(elements: elements) else {
            throw .badTensorDimensions(name: name, reason: "row length \(shape[0]) is not a multiple of the \(type.name) block size")
        }
        guard bytes == data.count else {
            throw .badTensorDimensions(name: name, reason: "needs \(bytes) bytes of data, got \(data.count)")
        }
        tensors.append(Tensor(name: name, shape: shape, type: type, data: data))
    }

    /// Adds an F32 tensor from values.
    public mutating func addTensor(name: String, shape: [Int], floats: [Float]) throws(GGUFError) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(floats.count * 4)
        for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        try addTensor(name: name, shape: shape, type: .f32, data: bytes)
    }

    /// The whole file as bytes.
    public func serialized() -> [UInt8] {
        var out = header(tensors.map { TensorInfo(name: $0.name, shape: $0.shape, type: $0.type) })
        for t in tensors {
            out.bytes.append(contentsOf: t.data)
            out.pad(to: alignment)
        }
        return out.bytes
    }

    public func write(to path: String) throws(GGUFError) {
        let bytes = serialized()
        guard let f = fopen(path, "wb") else { throw .writeFailed(path: path, reason: String(cString: strerror(errno))) }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let closed = fclose(f)
        guard written == bytes.count, closed == 0 else { throw .writeFailed(path: path, reason: "short write") }
    }

    /// A tensor whose bytes are produced while the file is written (`writeStreaming`).
    public struct TensorInfo: Sendable, Equatable {
        public var name: String
        public var shape: [Int]
        public var type: GGMLType
        public init(name: String, shape: [Int], type: GGMLType) {
            self.name = name
            self.shape = shape
            self.type = type
        }
        public var elements: Int { shape.reduce(1, *) }
        /// Bytes of data; nil when the row length is not a whole number of blocks.
        public var bytes: Int? { shape.first.map { $0 % type.blockLayout.weights == 0 } == true ? type.byteSize(elements: elements) : nil }
    }

    /// Bytes a file with this writer's metadata and these tensors takes (header, data and padding).
    public func fileSize(streaming tensors: [TensorInfo]) -> Int {
        var size = header(tensors).bytes.count
        for t in tensors { size += ((t.bytes ?? 0) + alignment - 1) / alignment * alignment }
        return size
    }

    /// Writes this writer's metadata and `tensors` (not `self.tensors`) to `path`, asking `fill` for each tensor's
    /// bytes a chunk at a time: `fill(tensorIndex, byteOffset, buffer)` fills `buffer` with the tensor's bytes from
    /// `byteOffset` on. Chunks are whole blocks of the tensor's type and at most about `chunkBytes`, so memory stays
    /// bounded by one chunk whatever the model's size. `fill` may throw to stop; the partial file is left for the
    /// caller to remove.
    public func writeStreaming(to path: String, tensors: [TensorInfo], chunkBytes: Int = 64 << 20,
                               fill: (Int, Int, UnsafeMutableRawBufferPointer) throws -> Void) throws {
        for (i, t) in tensors.enumerated() {
            guard (1...GGUFFile.maxDimensions).contains(t.shape.count), t.shape.allSatisfy({ $0 >= 0 }) else {
                throw GGUFError.badTensorDimensions(name: t.name, reason: "has shape \(t.shape)")
            }
            guard t.bytes != nil else {
                throw GGUFError.badTensorDimensions(name: t.name, reason: "row length \(t.shape[0]) is not a multiple of the \(t.type.name) block size")
            }
            if tensors[..<i].contains(where: { $0.name == t.name }) { throw GGUFError.duplicateTensor(t.name) }
        }
        guard let f = fopen(path, "wb") else { throw GGUFError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        var closed = false
        defer { if !closed { fclose(f) } }
        func put(_ p: UnsafeRawBufferPointer) throws {
            guard p.count == 0 || fwrite(p.baseAddress, 1, p.count, f) == p.count else {
                throw GGUFError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
        }
        let head = header(tensors).bytes
        try head.withUnsafeBytes { try put($0) }
        let block = tensors.map(\.type.blockLayout.bytes).max() ?? 1
        let capacity = max(chunkBytes / block, 1) * block + alignment
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
        defer { buffer.deallocate() }
        for (i, t) in tensors.enumerated() {
            let total = t.bytes!
            let step = max(chunkBytes / t.type.blockLayout.bytes, 1) * t.type.blockLayout.bytes
            var offset = 0
            while offset < total {
                let n = min(step, total - offset)
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n])
                try fill(i, offset, chunk)
                try put(UnsafeRawBufferPointer(chunk))
                offset += n
            }
            let pad = (total + alignment - 1) / alignment * alignment - total
            if pad > 0 {
                let zeros = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<pad])
                zeros.initializeMemory(as: UInt8.self, repeating: 0)
                try put(UnsafeRawBufferPointer(zeros))
            }
        }
        closed = true
        guard fclose(f) == 0 else { throw GGUFError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
    }

    /// Magic, version, counts, metadata and tensor infos, padded to the alignment: everything before the data.
    func header(_ tensors: [TensorInfo]) -> ByteWriter {
        var out = ByteWriter()
        out.put(GGUFFile.magic)
        out.put(UInt32(3))
        out.put(UInt64(tensors.count))
        var entries = metadata
        if alignment != GGUFFile.defaultAlignment, !entries.contains(where: { $0.key == "general.alignment" }) {
            entries.append(("general.alignment", .uint32(UInt32(alignment))))
        }
        out.put(UInt64(entries.count))
        for (key, value) in entries {
            out.putString(key)
            out.put(value.type.rawValue)
            out.putValue(value)
        }
        var next = 0
        for t in tensors {
            out.putString(t.name)
            out.put(UInt32(t.shape.count))
            for d in t.shape { out.put(UInt64(d)) }
            out.put(t.type.rawValue)
            out.put(UInt64(next))
            next = (next + (t.bytes ?? 0) + alignment - 1) / alignment * alignment
        }
        out.pad(to: alignment)
        return out
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func put<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func putString(_ s: String) {
        put(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }

    mutating func pad(to alignment: Int) {
        let padded = (bytes.count + alignment - 1) / alignment * alignment
        bytes.append(contentsOf: repeatElement(0, count: padded - bytes.count))
    }

    mutating func putValue(_ value: GGUFValue) {
        switch value {
        case .uint8(let v): put(v)
        case .int8(let v): put(v)
        case .uint16(let v): put(v)
        case .int16(let v): put(v)
        case .uint32(let v): put(v)
        case .int32(let v): put(v)
        case .uint64(let v): put(v)
        case .int64(let v): put(v)
        case .float32(let v): put(v.bitPattern)
        case .float64(let v): put(v.bitPattern)
        case .bool(let v): put(UInt8(v ? 1 : 0))
        case .string(let s): putString(s)
        case .array(let a): putArray(a)
        }
    }

    mutating func putArray(_ a: GGUFArray) {
        put(a.elementType.rawValue)
        put(UInt64(a.count))
        switch a {
        case .uint8(let xs): bytes.append(contentsOf: xs)
        case .int8(let xs): for x in xs { put(x) }
        case .uint16(let xs): for x in xs { put(x) }
        case .int16(let xs): for x in xs { put(x) }
        case .uint32(let xs): for x in xs { put(x) }
        case .int32(let xs): for x in xs { put(x) }
        case .uint64(let xs): for x in xs { put(x) }
        case .int64(let xs): for x in xs { put(x) }
        case .float32(let xs): for x in xs { put(x.bitPattern) }
        case .float64(let xs): for x in xs { put(x.bitPattern) }
        case .bool(let xs): for x in xs { put(UInt8(x ? 1 : 0)) }
        case .string(let xs): for x in xs { putString(x) }
        case .array(let xs): for x in xs { putArray(x) }
        }
    }
}
