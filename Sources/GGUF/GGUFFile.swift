import Foundation

/// One tensor of the table: where its bytes are and how to read them.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions in ggml order: `shape[0]` is the contiguous row length.
    public let shape: [Int]
    public let type: GGMLType
    /// Offset of the first byte relative to the start of the data section.
    public let offset: Int
    public let byteSize: Int
    public let elementCount: Int
    /// Which file of a split model holds the bytes (0: the first, or the only one).
    public var part = 0
}

/// A GGUF file, memory-mapped: metadata parsed at open, tensor data never copied.
/// Layout (ggml docs/gguf.md): magic, version, tensor count, metadata count, metadata,
/// tensor infos, padding to `general.alignment`, tensor data.
public final class GGUFFile: Sendable {
    public static let magic: UInt32 = 0x4655_4747  // "GGUF" little-endian
    public static let defaultAlignment = 32
    /// ggml's GGML_MAX_DIMS.
    public static let maxDimensions = 4
    /// ggml's GGML_MAX_NAME: tensor names are shorter than this (llama.cpp rejects longer ones).
    public static let maxNameLength = 64

    /// The first (or only) file.
    public let storage: MappedFile
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute offset of the data section.
    public let dataOffset: Int
    private let keyIndex: [String: Int]
    private let tensorIndex: [String: Int]
    /// Every file's mapping and data offset, in part order (one entry for a file that is not split).
    private let parts: [(storage: MappedFile, dataOffset: Int)]

    public var path: String { storage.path }
    /// Bytes of all its files.
    public var fileSize: Int { parts.reduce(0) { $0 + $1.storage.size } }
    /// Files the model is split into (1: not split).
    public var partCount: Int { parts.count }

    /// Takes the header's pages (metadata and tensor infos, parsed into this object already) out of
    /// resident memory: 1.7 MiB for SmolLM2, 6.2 MiB for Gemma 3, mostly the vocabulary.
    public func releaseHeaderPages() { for p in parts { p.storage.releasePages(0..<p.dataOffset) } }

    /// Maps and parses the file at `path`; for the first file of a split model
    /// (`NAME-00001-of-0000N.gguf`, `split.count` > 1), every part, as one model.
    public convenience init(path: String) throws(GGUFError) {
        let first = try GGUFFile(storage: MappedFile(path: path))
        let count = first.int("split.count") ?? 1
        guard count > 1 else {
            self.init(joining: [first])
            return
        }
        let number = first.int("split.no") ?? 0
        guard number == 0 else {
            throw .badSplit(path: path, reason: "it is part \(number + 1) of \(count); give the first part (…-00001-of-\(Self.splitSuffix(count)).gguf)")
        }
        var files = [first]
        for i in 1..<count {
            let partPath = try Self.splitPath(first: path, part: i, count: count)
            guard FileManager.default.fileExists(atPath: partPath) else {
                throw .badSplit(path: path, reason: "part \(i + 1) of \(count) is missing: \(partPath)")
            }
            let part = try GGUFFile(storage: MappedFile(path: partPath))
            guard part.int("split.no") == i, part.int("split.count") == count else {
                throw .badSplit(path: partPath, reason: "its split.no/split.count do not say part \(i + 1) of \(count)")
            }
            files.append(part)
        }
        let total = files.reduce(0) { $0 + $1.tensors.count }
        if let expected = first.int("split.tensors.count"), expected != total {
            throw .badSplit(path: path, reason: "split.tensors.count is \(expected) but the parts hold \(total) tensors")
        }
        try self.init(joiningParts: files)
    }

    /// llama.cpp's split naming (llama_split_path): PREFIX-%05d-of-%05d.gguf.
    static func splitSuffix(_ n: Int) -> String { String(repeating: "0", count: max(0, 5 - String(n).count)) + String(n) }

    static func splitPath(first: String, part: Int, count: Int) throws(GGUFError) -> String {
        let tail = "-00001-of-\(splitSuffix(count)).gguf"
        guard first.hasSuffix(tail) else {
            throw .badSplit(path: first, reason: "a split model's first file is named PREFIX\(tail)")
        }
        return String(first.dropLast(tail.count)) + "-\(splitSuffix(part + 1))-of-\(splitSuffix(count)).gguf"
    }

    /// One model from the files of a split (or one file): the first file's metadata, every file's tensors.
    private convenience init(joining files: [GGUFFile]) {
        try! self.init(joiningParts: files)  // one file: nothing can clash
    }

    private init(joiningParts files: [GGUFFile]) throws(GGUFError) {
        let first = files[0]
        storage = first.storage
        version = first.version
        metadata = first.metadata
        keyIndex = first.keyIndex
        alignment = first.alignment
        dataOffset = first.dataOffset
        var tensors: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        for (p, file) in files.enumerated() {
            for var t in file.tensors {
                t.part = p
                guard index[t.name] == nil else { throw .duplicateTensor(t.name) }
                index[t.name] = tensors.count
                tensors.append(t)
            }
        }
        self.tensors = tensors
        tensorIndex = index
        parts = files.map { ($0.storage, $0.dataOffset) }
    }

    /// Parses bytes already in memory (tests and fuzzing).
    public convenience init(bytes: [UInt8]) throws(GGUFError) {
        try self.init(storage: MappedFile(copying: bytes))
    }

    public init(storage: MappedFile) throws(GGUFError) {
        self.storage = storage
        var r = ByteReader(bytes: storage.bytes)

        let magic = try r.read(UInt32.self, "magic")
        guard magic == Self.magic else { throw .badMagic(found: magic) }
        version = try r.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let tensorCountOffset = r.offset
        let tensorCount = try r.read(UInt64.self, "tensor count")
        let kvCountOffset = r.offset
        let kvCount = try r.read(UInt64.self, "metadata count")
        // Each entry takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8 + 4 + 4 + 8.
        guard kvCount <= UInt64(r.remaining / 13) else {
            throw .countTooLarge(what: "metadata", count: kvCount, offset: kvCountOffset)
        }
        guard tensorCount <= UInt64(r.remaining / 24) else {
            throw .countTooLarge(what: "tensor", count: tensorCount, offset: tensorCountOffset)
        }

        var metadata: [(key: String, value: GGUFValue)] = []
        metadata.reserveCapacity(Int(kvCount))
        var keyIndex: [String: Int] = [:]
        for _ in 0..<Int(kvCount) {
            let key = try r.readString("metadata key")
            guard keyIndex[key] == nil else { throw .duplicateKey(key) }
            let rawType = try r.read(UInt32.self, "value type of '\(key)'")
            guard let type = GGUFValueType(rawValue: rawType) else { throw .unknownValueType(rawType, key: key) }
            let value = try r.readValue(type, key: key, depth: 0)
            keyIndex[key] = metadata.count
            metadata.append((key, value))
        }
        self.metadata = metadata
        self.keyIndex = keyIndex

        var alignment = Self.defaultAlignment
        if let i = keyIndex["general.alignment"] {
            guard case .uint32(let a) = metadata[i].value else {
                throw .badMetadata(key: "general.alignment", reason: "must be a uint32")
            }
            guard a != 0, a & (a - 1) == 0 else { throw .badAlignment(UInt64(a)) }
            alignment = Int(a)
        }
        self.alignment = alignment

        var infos: [(name: String, shape: [Int], type: GGMLType, offset: UInt64, elements: Int, bytes: Int)] = []
        infos.reserveCapacity(Int(tensorCount))
        var tensorIndex: [String: Int] = [:]
        for _ in 0..<Int(tensorCount) {
            let name = try r.readString("tensor name")
            guard name.utf8.count < Self.maxNameLength else {
                throw .badTensorDimensions(name: String(name.prefix(80)), reason: "has a name longer than \(Self.maxNameLength - 1) bytes")
            }
            guard tensorIndex[name] == nil else { throw .duplicateTensor(name) }
            let nDims = try r.read(UInt32.self, "dimension count of '\(name)'")
            guard nDims >= 1, nDims <= UInt32(Self.maxDimensions) else {
                throw .badTensorDimensions(name: name, reason: "has \(nDims) dimensions (1 to \(Self.maxDimensions) allowed)")
            }
            var shape: [Int] = []
            var elements = 1
            for _ in 0..<Int(nDims) {
                let d = try r.read(UInt64.self, "dimensions of '\(name)'")
                guard d <= UInt64(Int32.max) else {
                    throw .badTensorDimensions(name: name, reason: "has dimension \(d), too large")
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(d))
                guard !overflow, product <= Int(Int64.max) / 8 else {
                    throw .badTensorDimensions(name: name, reason: "has too many elements")
                }
                elements = product
                shape.append(Int(d))
            }
            let rawType = try r.read(UInt32.self, "type of '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else { throw .unknownTensorType(rawType, tensor: name) }
            guard shape[0] % type.blockLayout.weights == 0, let bytes = type.byteSize(elements: elements) else {
                throw .badTensorDimensions(
                    name: name, reason: "row length \(shape[0]) is not a multiple of the \(type.name) block size \(type.blockLayout.weights)")
            }
            let offset = try r.read(UInt64.self, "data offset of '\(name)'")
            guard offset % UInt64(alignment) == 0 else {
                throw .misalignedTensor(name: name, offset: offset, alignment: alignment)
            }
            tensorIndex[name] = infos.count
            infos.append((name, shape, type, offset, elements, bytes))
        }
        self.tensorIndex = tensorIndex

        let headerEnd = r.offset
        let padded = (headerEnd + alignment - 1) / alignment * alignment
        // A file without tensors may end right after its header, without padding.
        dataOffset = infos.isEmpty ? min(padded, storage.size) : padded
        let dataSize = storage.size - dataOffset
        if !infos.isEmpty, dataSize < 0 {
            throw .truncated(offset: headerEnd, needed: padded - headerEnd, fileSize: storage.size, what: "padding before tensor data")
        }

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(infos.count)
        for t in infos {
            guard t.offset <= UInt64(dataSize), t.bytes <= dataSize - Int(t.offset) else {
                throw .tensorOutOfBounds(name: t.name, offset: t.offset, bytes: t.bytes, dataSize: max(dataSize, 0))
            }
            tensors.append(GGUFTensorInfo(
                name: t.name, shape: t.shape, type: t.type, offset: Int(t.offset), byteSize: t.bytes, elementCount: t.elements))
        }
        let byOffset = tensors.sorted { $0.offset < $1.offset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.offset + a.byteSize > b.offset {
            throw .overlappingTensors(a.name, b.name)
        }
        self.tensors = tensors
        parts = [(storage, dataOffset)]
    }

    // MARK: Metadata access

    public subscript(key: String) -> GGUFValue? {
        keyIndex[key].map { metadata[$0].value }
    }

    public func string(_ key: String) -> String? { self[key]?.string }
    public func int(_ key: String) -> Int? { self[key]?.int }
    public func double(_ key: String) -> Double? { self[key]?.double }
    public func bool(_ key: String) -> Bool? { self[key]?.bool }
    public func array(_ key: String) -> GGUFArray? { self[key]?.array }

    /// The model's architecture (`general.architecture`), the prefix of its hyperparameter keys.
    public var architecture: String? { string("general.architecture") }

    // MARK: Tensor access

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The bytes of a tensor, straight from the mapping.
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let (storage, dataOffset) = parts[tensor.part]
        return UnsafeRawBufferPointer(rebasing: storage.bytes[(dataOffset + tensor.offset)..<(dataOffset + tensor.offset + tensor.byteSize)])
    }

    /// The bytes of a tensor that is about to be computed with: its type must be supported.
    public func computableData(of name: String) throws(GGUFError) -> (GGUFTensorInfo, UnsafeRawBufferPointer) {
        guard let t = tensor(named: name) else { throw .missingTensor(name) }
        guard t.type.isSupported else { throw .unsupportedTensorType(tensor: name, type: t.type) }
        return (t, data(of: t))
    }
}

/// Bounds-checked little-endian reads over the mapping.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    /// Nested arrays deeper than this are rejected (the format allows any depth; no real file nests twice).
    static let maxDepth = 8

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard n >= 0, n <= remaining else {
            throw .truncated(offset: offset, needed: n, fileSize: bytes.count, what: what())
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        try need(MemoryLayout<T>.size, what())
        let v = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    mutating func readString(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let start = offset
        let len = try read(UInt64.self, what())
        guard len <= UInt64(remaining) else {
            throw .truncated(offset: start, needed: len > UInt64(Int.max) ? Int.max : Int(len) + 8, fileSize: bytes.count, what: what())
        }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Int(len))])
        offset += Int(len)
        return Self.decodeUTF8(raw)
    }

    /// Decodes UTF-8, replacing each maximal invalid subpart with U+FFFD (as `String(decoding:)` does)
    /// in one linear pass: the standard library's repair path throws internally and is slow under a throw hook.
    static func decodeUTF8(_ raw: UnsafeRawBufferPointer) -> String {
        let b = raw.assumingMemoryBound(to: UInt8.self)
        var i = 0
        var runStart = 0
        var repaired: [UInt8] = []
        var didRepair = false
        while i < b.count {
            let valid = validSequenceLength(b, at: i)
            if valid > 0 {
                i += valid
                continue
            }
            if !didRepair {
                didRepair = true
                repaired.reserveCapacity(b.count + 64)
            }
            repaired.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<i]))
            repaired.append(0xEF)
            repaired.append(0xBF)
            repaired.append(0xBD)
            i += max(1, invalidSubpartLength(b, at: i))
            runStart = i
        }
        guard didRepair else { return String(decoding: b, as: UTF8.self) }
        repaired.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<b.count]))
        return String(decoding: repaired, as: UTF8.self)
    }

    /// Allowed second-byte range and length of a sequence starting with `lead` (RFC 3629), nil if no sequence starts so.
    static func sequenceShape(_ lead: UInt8) -> (length: Int, lo: UInt8, hi: UInt8)? {
        switch lead {
        case 0x00...0x7F: (1, 0, 0)
        case 0xC2...0xDF: (2, 0x80, 0xBF)
        case 0xE0: (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (3, 0x80, 0xBF)
        case 0xED: (3, 0x80, 0x9F)
        case 0xF0: (4, 0x90, 0xBF)
        case 0xF1...0xF3: (4, 0x80, 0xBF)
        case 0xF4: (4, 0x80, 0x8F)
        default: nil
        }
    }

    /// Length of the well-formed sequence at `i`, or 0.
    static func validSequenceLength(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        guard let (len, lo, hi) = sequenceShape(b[i]) else { return 0 }
        if len == 1 { return 1 }
        guard i + len <= b.count, (lo...hi).contains(b[i + 1]) else { return 0 }
        for k in 2..<len where !(0x80...0xBF).contains(b[i + k]) { return 0 }
        return len
    }

    /// Bytes of the maximal invalid subpart at `i`: a valid lead and as many valid continuations as follow.
    static func invalidSubpartLength(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        guard let (len, lo, hi) = sequenceShape(b[i]), len > 1 else { return 1 }
        var n = 1
        while n < len, i + n < b.count {
            let ok = n == 1 ? (lo...hi).contains(b[i + 1]) : (0x80...0xBF).contains(b[i + n])
            guard ok else { break }
            n += 1
        }
        return n
    }

    mutating func readArray<T: FixedWidthInteger>(_: T.Type, count: Int) -> [T] {
        let base = offset
        let result = [T](unsafeUninitializedCapacity: count) { buf, initialized in
            for i in 0..<count {
                buf[i] = T(littleEndian: bytes.loadUnaligned(fromByteOffset: base + i * MemoryLayout<T>.size, as: T.self))
            }
            initialized = count
        }
        offset += count * MemoryLayout<T>.size
        return result
    }

    mutating func readValue(_ type: GGUFValueType, key: String, depth: Int) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, "value of '\(key)'"))
        case .int8: return .int8(try read(Int8.self, "value of '\(key)'"))
        case .uint16: return .uint16(try read(UInt16.self, "value of '\(key)'"))
        case .int16: return .int16(try read(Int16.self, "value of '\(key)'"))
        case .uint32: return .uint32(try read(UInt32.self, "value of '\(key)'"))
        case .int32: return .int32(try read(Int32.self, "value of '\(key)'"))
        case .uint64: return .uint64(try read(UInt64.self, "value of '\(key)'"))
        case .int64: return .int64(try read(Int64.self, "value of '\(key)'"))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, "value of '\(key)'")))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, "value of '\(key)'")))
        case .bool:
            let b = try read(UInt8.self, "value of '\(key)'")
            guard b <= 1 else { throw .badMetadata(key: key, reason: "bool value \(b) is neither 0 nor 1") }
            return .bool(b == 1)
        case .string: return .string(try readString("value of '\(key)'"))
        case .array: return .array(try readArrayValue(key: key, depth: depth))
        }
    }

    mutating func readArrayValue(key: String, depth: Int) throws(GGUFError) -> GGUFArray {
        guard depth < Self.maxDepth else { throw .badMetadata(key: key, reason: "arrays nested more than \(Self.maxDepth) deep") }
        let rawType = try read(UInt32.self, "array type of '\(key)'")
        guard let type = GGUFValueType(rawValue: rawType) else { throw .unknownValueType(rawType, key: key) }
        let countOffset = offset
        let rawCount = try read(UInt64.self, "array count of '\(key)'")
        guard rawCount <= UInt64(remaining / type.minimumEncodedSize) else {
            throw .countTooLarge(what: "array '\(key)'", count: rawCount, offset: countOffset)
        }
        let n = Int(rawCount)
        switch type {
        case .uint8: return .uint8(readArray(UInt8.self, count: n))
        case .int8: return .int8(readArray(Int8.self, count: n))
        case .uint16: return .uint16(readArray(UInt16.self, count: n))
        case .int16: return .int16(readArray(Int16.self, count: n))
        case .uint32: return .uint32(readArray(UInt32.self, count: n))
        case .int32: return .int32(readArray(Int32.self, count: n))
        case .uint64: return .uint64(readArray(UInt64.self, count: n))
        case .int64: return .int64(readArray(Int64.self, count: n))
        case .float32: return .float32(readArray(UInt32.self, count: n).map(Float.init(bitPattern:)))
        case .float64: return .float64(readArray(UInt64.self, count: n).map(Double.init(bitPattern:)))
        case .bool:
            let raw = readArray(UInt8.self, count: n)
            guard raw.allSatisfy({ $0 <= 1 }) else { throw .badMetadata(key: key, reason: "bool array holds a value other than 0 or 1") }
            return .bool(raw.map { $0 == 1 })
        case .string:
            var out: [String] = []
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(try readString("string in array '\(key)'")) }
            return .string(out)
        case .array:
            var out: [GGUFArray] = []
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(try readArrayValue(key: key, depth: depth + 1)) }
            return .array(out)
        }
    }
}
