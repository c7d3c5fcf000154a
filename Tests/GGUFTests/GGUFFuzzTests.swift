import Foundation
import Testing
@testable import GGUF

/// Where the embedded models live: `$FEATHER_MODELS`, else `<repo>/.models`.
let modelsDirectory: String = ProcessInfo.processInfo.environment["FEATHER_MODELS"]
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".models").path

func embeddedModel(_ name: String) -> String { "\(modelsDirectory)/\(name).gguf" }
func haveModel(_ name: String) -> Bool { FileManager.default.fileExists(atPath: embeddedModel(name)) }

/// Seeded random mutations of the real models' headers: each mutated file must load or throw a
/// GGUFError, never crash, hang or allocate without bound. Mutations are applied in place to a
/// private copy-on-write mapping and undone after each parse, so the 250 MB file is never copied.
@Suite(.serialized) struct GGUFFuzzTests {
    @Test(arguments: [("smollm2-135m", 1200), ("gemma3-270m", 800)])
    func mutatedHeadersLoadOrThrow(model: String, iterations: Int) throws {
        guard haveModel(model) else {
            Issue.record("missing \(embeddedModel(model)); run scripts/fetch-models.sh")
            return
        }
        let storage = try MappedFile(path: embeddedModel(model), privateWritable: true)
        let original = try GGUFFile(storage: storage)
        let headerEnd = original.dataOffset
        // The tensor table sits at the end of the header; find its start to aim some mutations there.
        let firstTensorName = Array(original.tensors[0].name.utf8)
        let tableStart = Self.find(firstTensorName, in: storage.bytes, before: headerEnd) - 8
        let bytes = UnsafeMutableRawPointer(mutating: storage.bytes.baseAddress!)

        var rng = SplitMix64(seed: 0x5EED_0000 &+ UInt64(iterations))
        var loaded = 0, threw = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var kinds: [String: Int] = [:]
        for _ in 0..<iterations {
            // A third of the mutations in the fixed header and first keys, a third in the tensor table, the rest anywhere.
            let region: Range<Int> = switch Int.random(in: 0..<3, using: &rng) {
            case 0: 0..<min(4096, headerEnd)
            case 1: tableStart..<headerEnd
            default: 0..<headerEnd
            }
            var saved: [(Int, UInt8)] = []
            func poke(_ at: Int, _ value: UInt8) {
                guard at < storage.size else { return }
                saved.append((at, bytes.load(fromByteOffset: at, as: UInt8.self)))
                bytes.storeBytes(of: value, toByteOffset: at, as: UInt8.self)
            }
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: region, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: poke(at, bytes.load(fromByteOffset: at, as: UInt8.self) ^ (1 << UInt8.random(in: 0...7, using: &rng)))
                case 1: poke(at, UInt8.random(in: 0...255, using: &rng))
                case 2: for i in 0..<8 { poke(at + i, UInt8.random(in: 0...255, using: &rng)) }  // a wild count or length
                default: for i in 0..<8 { poke(at + i, i < 4 ? 0xFF : 0) }                        // a large but plausible count
                }
            }
            // Some mutations also truncate the file within the header.
            let length = Int.random(in: 0..<5, using: &rng) == 0 ? Int.random(in: 0..<headerEnd, using: &rng) : storage.size
            do {
                let view = MappedFile(prefixOf: storage, length: length)
                _ = try GGUFFile(storage: view)
                loaded += 1
            } catch {
                threw += 1
                kinds["\(error)".components(separatedBy: ":").first ?? "", default: 0] += 1
            }
            for (at, value) in saved.reversed() { bytes.storeBytes(of: value, toByteOffset: at, as: UInt8.self) }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print("fuzz \(model): \(iterations) mutations, \(loaded) loaded, \(threw) threw, \(Int(seconds)) s")
        #expect(loaded + threw == iterations)
        #expect(threw > iterations / 10, "mutations should break most headers; kinds \(kinds)")
        // The mutations were undone: the original still parses to the same tables.
        #expect(try GGUFFile(storage: storage).tensors == original.tensors)
    }

    static func find(_ needle: [UInt8], in hay: UnsafeRawBufferPointer, before end: Int) -> Int {
        var i = end - needle.count
        while i >= 0 {
            if hay[i] == needle[0], needle.indices.allSatisfy({ hay[i + $0] == needle[$0] }) { return i }
            i -= 1
        }
        return 0
    }
}
