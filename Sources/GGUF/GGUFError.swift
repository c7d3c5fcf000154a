/// Everything that can be wrong with a GGUF file, each with one clear line for the user.
public enum GGUFError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case badMagic(found: UInt32)
    case unsupportedVersion(UInt32)
    case truncated(offset: Int, needed: Int, fileSize: Int, what: String)
    case countTooLarge(what: String, count: UInt64, offset: Int)
    case unknownValueType(UInt32, key: String)
    case duplicateKey(String)
    case badMetadata(key: String, reason: String)
    case badAlignment(UInt64)
    case duplicateTensor(String)
    case badTensorDimensions(name: String, reason: String)
    case unknownTensorType(UInt32, tensor: String)
    case misalignedTensor(name: String, offset: UInt64, alignment: Int)
    case tensorOutOfBounds(name: String, offset: UInt64, bytes: Int, dataSize: Int)
    case overlappingTensors(String, String)
    case unsupportedTensorType(tensor: String, type: GGMLType)
    case missingTensor(String)
    case missingKey(String)
    case writeFailed(path: String, reason: String)
    /// A split model (split.count > 1) whose parts do not fit together.
    case badSplit(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open \(path): \(reason)"
        case .badMagic(let found):
            "not a GGUF file: magic is 0x\(String(found, radix: 16)), expected 0x46554747 (\"GGUF\")"
        case .unsupportedVersion(let v):
            "unsupported GGUF version \(v) (versions 2 and 3 are supported)"
        case .truncated(let offset, let needed, let fileSize, let what):
            "truncated GGUF file: \(what) needs \(needed) bytes at offset \(offset), but the file has \(fileSize) bytes"
        case .countTooLarge(let what, let count, let offset):
            "corrupt GGUF file: \(what) count \(count) at offset \(offset) runs past the end of the file"
        case .unknownValueType(let t, let key):
            "corrupt GGUF file: unknown metadata value type \(t) for key '\(key)'"
        case .duplicateKey(let key):
            "corrupt GGUF file: duplicate metadata key '\(key)'"
        case .badMetadata(let key, let reason):
            "bad GGUF metadata '\(key)': \(reason)"
        case .badAlignment(let a):
            "corrupt GGUF file: general.alignment \(a) is not a power of two"
        case .duplicateTensor(let name):
            "corrupt GGUF file: duplicate tensor name '\(name)'"
        case .badTensorDimensions(let name, let reason):
            "corrupt GGUF file: tensor '\(name)' \(reason)"
        case .unknownTensorType(let t, let name):
            "corrupt GGUF file: tensor '\(name)' has unknown ggml type id \(t)"
        case .misalignedTensor(let name, let offset, let alignment):
            "corrupt GGUF file: tensor '\(name)' data offset \(offset) is not a multiple of the alignment \(alignment)"
        case .tensorOutOfBounds(let name, let offset, let bytes, let dataSize):
            "corrupt GGUF file: tensor '\(name)' (\(bytes) bytes at data offset \(offset)) lies outside the data section of \(dataSize) bytes"
        case .overlappingTensors(let a, let b):
            "corrupt GGUF file: tensors '\(a)' and '\(b)' overlap"
        case .unsupportedTensorType(let name, let type):
            "tensor '\(name)' has type \(type.name), which Featherweight does not support yet"
        case .missingTensor(let name):
            "model file has no tensor '\(name)'"
        case .missingKey(let key):
            "model file has no metadata key '\(key)'"
        case .badSplit(let path, let reason):
            "\(path): split model: \(reason)"
        case .writeFailed(let path, let reason):
            "cannot write \(path): \(reason)"
        }
    }
}
