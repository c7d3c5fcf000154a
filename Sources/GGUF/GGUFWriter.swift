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
        var offsets: [Int] = []
        var next = 0
        for t in tensors {
            offsets.append(next)
            next = (next + t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, offset) in zip(tensors, offsets) {
            out.putString(t.name)
            out.put(UInt32(t.shape.count))
            for d in t.shape { out.put(UInt64(d)) }
            out.put(t.type.rawValue)
            out.put(UInt64(offset))
        }
        out.pad(to: alignment)
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
