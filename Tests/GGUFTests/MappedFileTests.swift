import Foundation
import Testing
@testable import GGUF

@Suite struct MappedFileTests {
    /// Released pages leave resident memory and read back unchanged; a copy-on-write mapping keeps its edits.
    @Test func releasedPagesReadBackUnchanged() throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let count = 64 * page + 123
        var rng = SystemRandomNumberGenerator()
        let data = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let path = "/tmp/feather-mapped-\(UInt32.random(in: 0...UInt32.max)).bin"
        FileManager.default.createFile(atPath: path, contents: Data(data))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let file = try MappedFile(path: path)
        #expect(Array(file.bytes) == data)
        let before = Self.residentPages(file)
        #expect(before >= 64)
        file.releasePages(page / 2..<(40 * page + 7))  // whole pages 1..<40 go
        #expect(Self.residentPages(file) <= before - 39)
        #expect(Array(file.bytes) == data)
        file.releasePages(-5..<(count + 100))  // clamped to the file, no crash
        #expect(Array(file.bytes) == data)

        let cow = try MappedFile(path: path, privateWritable: true)
        UnsafeMutableRawPointer(mutating: cow.bytes.baseAddress!).storeBytes(of: ~data[page], toByteOffset: page, as: UInt8.self)
        cow.releasePages(0..<count)
        #expect(cow.bytes[page] == ~data[page])
    }

    /// The mapping's resident pages in this process (/proc/self/smaps; mincore would count the page cache).
    static func residentPages(_ file: MappedFile) -> Int {
        let start = String(UInt(bitPattern: file.bytes.baseAddress!), radix: 16)
        guard let fh = FileHandle(forReadingAtPath: "/proc/self/smaps"), let raw = try? fh.readToEnd(),
              let smaps = String(data: raw, encoding: .utf8) else { return -1 }
        var inMapping = false
        for line in smaps.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), line[..<dash].allSatisfy(\.isHexDigit) {
                inMapping = line[..<dash].drop(while: { $0 == "0" }) == start.drop(while: { $0 == "0" })
            } else if inMapping, line.hasPrefix("Rss:") {
                let kib = Int(line.split(separator: " ")[1]) ?? -1
                return kib * 1024 / Int(sysconf(Int32(_SC_PAGESIZE)))
            }
        }
        return -1
    }
}
