import Testing
@testable import GGUF

/// Hand-assembles GGUF bytes field by field, so each test can break exactly one thing.
struct RawGGUF {
    var magic: UInt32 = GGUFFile.magic
    var version: UInt32 = 3
    var tensorCount: UInt64?
    var kvCount: UInt64?
    var kvs: [(String, GGUFValue)] = []
    /// Raw bytes appended after the well-formed metadata (for malformed entries).
    var extraMetadata: [UInt8] = []
    var extraKVCount: UInt64 = 0
    var tensors: [(name: String, dims: [UInt64], type: UInt32, offset: UInt64)] = []
    var dataBytes = 0
    var alignment = 32

    func bytes() -> [UInt8] {
        var w = ByteWriter()
        w.put(magic)
        w.put(version)
        w.put(tensorCount ?? UInt64(tensors.count))
        w.put(kvCount ?? UInt64(kvs.count) + extraKVCount)
        for (k, v) in kvs {
            w.putString(k)
            w.put(v.type.rawValue)
            w.putValue(v)
        }
        w.bytes += extraMetadata
        for t in tensors {
            w.putString(t.name)
            w.put(UInt32(t.dims.count))
            for d in t.dims { w.put(d) }
            w.put(t.type)
            w.put(t.offset)
        }
        w.pad(to: alignment)
        w.bytes += [UInt8](repeating: 0xAB, count: dataBytes)
        return w.bytes
    }
}

func parseError(_ bytes: [UInt8]) -> GGUFError? {
    do {
        _ = try GGUFFile(bytes: bytes)
        return nil
    } catch {
        return error
    }
}

/// A small valid file: two F32 tensors of 8 floats (32 bytes each).
func validRaw() -> RawGGUF {
    var r = RawGGUF()
    r.kvs = [("general.architecture", .string("llama")), ("llama.block_count", .uint32(1))]
    r.tensors = [("a", [8], GGMLType.f32.rawValue, 0), ("b", [4, 2], GGMLType.f32.rawValue, 32)]
    r.dataBytes = 64
    return r
}

@Suite struct GGUFFileTests {
    @Test func validFileParses() throws {
        let f = try GGUFFile(bytes: validRaw().bytes())
        #expect(f.version == 3)
        #expect(f.architecture == "llama")
        #expect(f.int("llama.block_count") == 1)
        #expect(f.tensors.map(\.name) == ["a", "b"])
        #expect(f.tensor(named: "b")?.shape == [4, 2])
        #expect(f.tensor(named: "b")?.byteSize == 32)
        #expect(f.data(of: f.tensor(named: "a")!).allSatisfy { $0 == 0xAB })
    }

    @Test func version2Parses() throws {
        var r = validRaw()
        r.version = 2
        #expect(try GGUFFile(bytes: r.bytes()).version == 2)
    }

    @Test func wrongMagic() {
        var r = validRaw()
        r.magic = 0x4655_4746
        #expect(parseError(r.bytes()) == .badMagic(found: 0x4655_4746))
        #expect(parseError(Array("not a model at all".utf8)) != nil)
        #expect(parseError([]) != nil)
    }

    @Test(arguments: [UInt32(0), 1, 4, 0xFFFF_FFFF])
    func unknownVersion(version: UInt32) {
        var r = validRaw()
        r.version = version
        #expect(parseError(r.bytes()) == .unsupportedVersion(version))
    }

    @Test func everyTruncationThrows() throws {
        let bytes = validRaw().bytes()
        let headerEnd = try GGUFFile(bytes: bytes).dataOffset
        for cut in 0..<bytes.count {
            let e = parseError(Array(bytes[..<cut]))
            #expect(e != nil, "cut at \(cut)")
            if cut < headerEnd - 32, let e {
                // Inside the header proper the error names the truncation, or a count the rest cannot hold.
                switch e {
                case .truncated, .countTooLarge: break
                default: Issue.record("cut at \(cut): \(e)")
                }
            }
        }
    }

    @Test func metadataCountPastEnd() {
        var r = validRaw()
        r.kvCount = 1 << 40
        guard case .countTooLarge(let what, _, _) = parseError(r.bytes()) else { Issue.record("no countTooLarge"); return }
        #expect(what == "metadata")
    }

    @Test func tensorCountPastEnd() {
        var r = validRaw()
        r.tensorCount = UInt64.max
        guard case .countTooLarge(let what, _, _) = parseError(r.bytes()) else { Issue.record("no countTooLarge"); return }
        #expect(what == "tensor")
    }

    @Test func arrayCountPastEnd() {
        var r = validRaw()
        var w = ByteWriter()
        w.putString("tokenizer.ggml.scores")
        w.put(GGUFValueType.array.rawValue)
        w.put(GGUFValueType.float32.rawValue)
        w.put(UInt64(1) << 60)
        r.extraMetadata = w.bytes
        r.extraKVCount = 1
        guard case .countTooLarge = parseError(r.bytes()) else { Issue.record("no countTooLarge"); return }
    }

    @Test func stringLengthPastEnd() {
        var r = validRaw()
        var w = ByteWriter()
        w.put(UInt64(1) << 62)  // key length
        r.extraMetadata = w.bytes
        r.extraKVCount = 1
        guard case .truncated = parseError(r.bytes()) else { Issue.record("no truncated"); return }
    }

    @Test func unknownValueType() {
        var r = validRaw()
        var w = ByteWriter()
        w.putString("x")
        w.put(UInt32(13))
        w.put(UInt32(0))
        r.extraMetadata = w.bytes
        r.extraKVCount = 1
        #expect(parseError(r.bytes()) == .unknownValueType(13, key: "x"))
    }

    @Test func unknownArrayElementType() {
        var r = validRaw()
        var w = ByteWriter()
        w.putString("x")
        w.put(GGUFValueType.array.rawValue)
        w.put(UInt32(99))
        w.put(UInt64(0))
        r.extraMetadata = w.bytes
        r.extraKVCount = 1
        #expect(parseError(r.bytes()) == .unknownValueType(99, key: "x"))
    }

    @Test func badBool() {
        var r = validRaw()
        var w = ByteWriter()
        w.putString("x")
        w.put(GGUFValueType.bool.rawValue)
        w.put(UInt8(7))
        r.extraMetadata = w.bytes
        r.extraKVCount = 1
        guard case .badMetadata(let key, _) = parseError(r.bytes()) else { Issue.record("no badMetadata"); return }
        #expect(key == "x")
    }

    @Test func deeplyNestedArraysAreRejected() {
        var r = validRaw()
        var w = ByteWriter()
        w.putString("x")
        w.put(GGUFValueType.array.rawValue)
        for _ in 0..<100 {
            w.put(GGUFValueType.array.rawValue)
            w.put(UInt64(1))
        }
        r.extraMetadata = w.bytes
        r.extraKVCount = 1
        guard case .badMetadata = parseError(r.bytes()) else { Issue.record("no badMetadata"); return }
    }

    @Test func duplicateKey() {
        var r = validRaw()
        r.kvs.append(("general.architecture", .string("gemma3")))
        #expect(parseError(r.bytes()) == .duplicateKey("general.architecture"))
    }

    @Test func duplicateTensor() {
        var r = validRaw()
        r.tensors[1].name = "a"
        #expect(parseError(r.bytes()) == .duplicateTensor("a"))
    }

    @Test(arguments: [UInt32(4), 5, 31, 99, 0xFFFF_FFFF])
    func unknownTensorType(type: UInt32) {
        var r = validRaw()
        r.tensors[0].type = type
        #expect(parseError(r.bytes()) == .unknownTensorType(type, tensor: "a"))
    }

    @Test func tensorOutsideDataSection() {
        var r = validRaw()
        r.tensors[1].offset = 64
        #expect(parseError(r.bytes()) == .tensorOutOfBounds(name: "b", offset: 64, bytes: 32, dataSize: 64))
        r.tensors[1].offset = UInt64.max - 31
        guard case .tensorOutOfBounds = parseError(r.bytes()) else { Issue.record("no tensorOutOfBounds"); return }
    }

    @Test func overlappingTensors() {
        var r = validRaw()
        r.tensors[1].dims = [16]  // 64 bytes from 0: overlaps b at 32
        r.tensors[1].offset = 0
        r.tensors[0].offset = 32
        r.dataBytes = 96
        #expect(parseError(r.bytes()) == .overlappingTensors("b", "a"))
    }

    @Test func misalignedOffset() {
        var r = validRaw()
        r.tensors[1].offset = 36
        #expect(parseError(r.bytes()) == .misalignedTensor(name: "b", offset: 36, alignment: 32))
    }

    @Test func customAlignment() throws {
        var r = validRaw()
        r.kvs.append(("general.alignment", .uint32(64)))
        r.alignment = 64
        r.tensors[1].offset = 64
        r.dataBytes = 96
        let f = try GGUFFile(bytes: r.bytes())
        #expect(f.alignment == 64)
        #expect(f.dataOffset % 64 == 0)
        r.tensors[1].offset = 32
        #expect(parseError(r.bytes()) == .misalignedTensor(name: "b", offset: 32, alignment: 64))
    }

    @Test(arguments: [GGUFValue.uint32(0), .uint32(3), .uint32(48), .uint64(32), .string("32")])
    func badAlignment(value: GGUFValue) {
        var r = validRaw()
        r.kvs.append(("general.alignment", value))
        let e = parseError(r.bytes())
        switch e {
        case .badAlignment?, .badMetadata(key: "general.alignment", _)?: break
        default: Issue.record("got \(String(describing: e))")
        }
    }

    @Test func badDimensions() {
        var r = validRaw()
        r.tensors[0].dims = []
        guard case .badTensorDimensions = parseError(r.bytes()) else { Issue.record("0 dims accepted"); return }
        r.tensors[0].dims = [1, 1, 1, 1, 8]
        guard case .badTensorDimensions = parseError(r.bytes()) else { Issue.record("5 dims accepted"); return }
        r.tensors[0].dims = [1 << 31, 1 << 31, 1 << 31, 1 << 31]
        guard case .badTensorDimensions = parseError(r.bytes()) else { Issue.record("overflow accepted"); return }
        // A Q4_0 row must be a whole number of 32-weight blocks.
        r.tensors[0].dims = [16]
        r.tensors[0].type = GGMLType.q4_0.rawValue
        guard case .badTensorDimensions = parseError(r.bytes()) else { Issue.record("partial block accepted"); return }
    }

    @Test func unsupportedTypeLoadsButCannotBeComputed() throws {
        var r = validRaw()
        r.tensors[0] = ("iq", [256], GGMLType.iq2_xxs.rawValue, 0)
        r.tensors[1].offset = 96
        r.dataBytes = 128
        let f = try GGUFFile(bytes: r.bytes())
        #expect(f.tensor(named: "iq")?.byteSize == 66)
        #expect(throws: GGUFError.unsupportedTensorType(tensor: "iq", type: .iq2_xxs)) { try f.computableData(of: "iq") }
        #expect(throws: GGUFError.missingTensor("zz")) { try f.computableData(of: "zz") }
        #expect(try f.computableData(of: "b").1.count == 32)
    }

    @Test func errorsReadAsOneLine() {
        let errors: [GGUFError] = [
            .badMagic(found: 1), .unsupportedVersion(9), .truncated(offset: 1, needed: 2, fileSize: 3, what: "x"),
            .countTooLarge(what: "tensor", count: 5, offset: 8), .overlappingTensors("a", "b"),
        ]
        for e in errors {
            #expect(!e.description.isEmpty && !e.description.contains("\n"))
        }
    }
}

@Suite struct UTF8DecodingTests {
    /// Invalid bytes become U+FFFD exactly as the standard library's repairing decoder makes them.
    @Test func matchesStandardLibraryRepair() {
        var rng = SplitMix64(seed: 7)
        let samples: [[UInt8]] = [
            [], Array("plain ascii".utf8), Array("héllo ▁ 🦊 中文".utf8), [0xFF], [0xC0, 0x80], [0xE0, 0x80, 0x80],
            [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x61, 0xF0, 0x9F, 0x98], [0x80, 0x80, 0x61],
        ] + (0..<500).map { _ in (0..<Int.random(in: 0...12, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        for bytes in samples {
            let ours = bytes.withUnsafeBytes { ByteReader.decodeUTF8($0) }
            #expect(ours == String(decoding: bytes, as: UTF8.self), "\(bytes)")
        }
    }
}
