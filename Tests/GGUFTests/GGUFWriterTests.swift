import Testing
@testable import GGUF

@Suite struct GGUFWriterTests {
    static let everyValue: [(String, GGUFValue)] = [
        ("u8", .uint8(200)), ("i8", .int8(-100)), ("u16", .uint16(60000)), ("i16", .int16(-30000)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)), ("u64", .uint64(UInt64.max)),
        ("i64", .int64(Int64.min)), ("f32", .float32(-1.5e-7)), ("f64", .float64(Double.pi)), ("bool", .bool(true)),
        ("str", .string("héllo ▁wörld 🦊")), ("empty", .string("")),
        ("a.u8", .array(.uint8([1, 2, 255]))), ("a.i32", .array(.int32([-1, 0, 7]))),
        ("a.f32", .array(.float32([0.5, -0, .infinity]))), ("a.f64", .array(.float64([1e300]))),
        ("a.bool", .array(.bool([true, false]))), ("a.str", .array(.string(["<s>", "", "▁the"]))),
        ("a.u64", .array(.uint64([0, UInt64.max]))), ("a.i64", .array(.int64([Int64.min]))),
        ("a.u16", .array(.uint16([1]))), ("a.i16", .array(.int16([-1]))), ("a.i8", .array(.int8([-128]))),
        ("a.u32", .array(.uint32([]))),
        ("a.nested", .array(.array([.string(["x", "y"]), .int32([1]), .array([.bool([true])])]))),
    ]

    @Test func everyValueTypeRoundTrips() throws {
        var w = GGUFWriter()
        for (k, v) in Self.everyValue { w.set(k, v) }
        let f = try GGUFFile(bytes: w.serialized())
        #expect(f.metadata.map(\.key) == Self.everyValue.map(\.0))
        for (k, v) in Self.everyValue { #expect(f[k] == v, "\(k)") }
    }

    @Test func setReplacesInPlace() {
        var w = GGUFWriter()
        w.set("a", "1")
        w.set("b", "2")
        w.set("a", "3")
        #expect(w.metadata.map(\.key) == ["a", "b"])
        #expect(w.metadata[0].value == .string("3"))
    }

    @Test(arguments: [32, 64, 256])
    func tensorsOfEveryTypeRoundTrip(alignment: Int) throws {
        var rng = SplitMix64(seed: 42)
        var w = GGUFWriter(alignment: alignment)
        w.set("general.architecture", "llama")
        var expected: [String: ([Int], GGMLType, [UInt8])] = [:]
        for type in GGMLType.allCases {
            let shape = [type.blockLayout.weights * 2, 3]
            let bytes = (0..<type.byteSize(elements: shape[0] * shape[1])!).map { _ in UInt8.random(in: 0...255, using: &rng) }
            try w.addTensor(name: "t.\(type.name)", shape: shape, type: type, data: bytes)
            expected["t.\(type.name)"] = (shape, type, bytes)
        }
        let f = try GGUFFile(bytes: w.serialized())
        #expect(f.alignment == alignment)
        #expect(f.tensors.count == GGMLType.allCases.count)
        for t in f.tensors {
            let (shape, type, bytes) = expected[t.name]!
            #expect(t.shape == shape && t.type == type)
            #expect(Array(f.data(of: t)) == bytes)
            #expect((f.dataOffset + t.offset) % alignment == 0)
        }
    }

    @Test func floatTensorHelper() throws {
        var w = GGUFWriter()
        try w.addTensor(name: "w", shape: [2, 2], floats: [1, -2, 0.5, 3])
        let f = try GGUFFile(bytes: w.serialized())
        let data = f.data(of: f.tensor(named: "w")!)
        #expect((0..<4).map { data.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } == [1, -2, 0.5, 3])
    }

    @Test func writerRejectsBadTensors() {
        var w = GGUFWriter()
        #expect(throws: GGUFError.self) { try w.addTensor(name: "x", shape: [16], type: .q4_0, data: []) }
        #expect(throws: GGUFError.self) { try w.addTensor(name: "x", shape: [32], type: .q4_0, data: [0]) }
        #expect(throws: GGUFError.self) { try w.addTensor(name: "x", shape: [], type: .f32, data: []) }
        #expect(throws: Never.self) { try w.addTensor(name: "x", shape: [1], type: .f32, data: [0, 0, 0, 0]) }
        #expect(throws: GGUFError.duplicateTensor("x")) { try w.addTensor(name: "x", shape: [1], type: .f32, data: [0, 0, 0, 0]) }
    }

    @Test func writesToDisk() throws {
        var w = GGUFWriter()
        w.set("general.name", "disk")
        try w.addTensor(name: "w", shape: [4], floats: [1, 2, 3, 4])
        let path = "/tmp/feather-writer-\(UInt32.random(in: 0...UInt32.max)).gguf"
        try w.write(to: path)
        let f = try GGUFFile(path: path)
        #expect(f.string("general.name") == "disk")
        #expect(f.fileSize == w.serialized().count)
        #expect(throws: GGUFError.self) { try w.write(to: "/nonexistent-dir/x.gguf") }
    }
}

/// Small seeded generator so tests are reproducible (Vigna's SplitMix64).
struct SplitMix64: RandomNumberGenerator {
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
