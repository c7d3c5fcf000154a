#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory mapping of a whole file; unmapped when the last reference goes.
public final class MappedFile: @unchecked Sendable {
    // Immutable after init; the mapping is read-only, so sharing across threads is safe.
    public let path: String
    public let bytes: UnsafeRawBufferPointer

    /// Maps `path` read-only; with `privateWritable`, writable copy-on-write (tests mutate headers in place).
    public init(path: String, privateWritable: Bool = false) throws(GGUFError) {
        self.path = path
        isMapped = true
        writable = privateWritable
        owner = nil
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .cannotOpen(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let p = mmap(nil, size, privateWritable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw .cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// A heap copy of `data`, read through the same interface (tests, fuzzing).
    public init(copying data: [UInt8]) {
        path = "<memory>"
        isMapped = false
        writable = false
        owner = nil
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 64)
        p.copyBytes(from: data)
        bytes = UnsafeRawBufferPointer(start: p.baseAddress, count: data.count)
    }

    private let isMapped: Bool
    private let writable: Bool
    /// Set for a view onto another file's bytes, which that file owns.
    private let owner: MappedFile?

    /// The first `length` bytes of `file`, shared, not copied (tests of truncated files).
    public init(prefixOf file: MappedFile, length: Int) {
        path = file.path
        isMapped = false
        writable = false
        owner = file
        bytes = UnsafeRawBufferPointer(rebasing: file.bytes[0..<min(max(length, 0), file.size)])
    }

    deinit {
        guard owner == nil, let base = bytes.baseAddress else { return }
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        } else {
            base.deallocate()
        }
    }

    public var size: Int { bytes.count }

    /// Takes the whole pages inside `range` out of this process's resident memory (madvise
    /// DONTNEED): they stay in the page cache and a later read maps them again, unchanged, since
    /// the mapping is read-only. A no-op for heap copies and copy-on-write mappings.
    public func releasePages(_ range: Range<Int>) {
        guard isMapped, !writable, let base = bytes.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (max(range.lowerBound, 0) + page - 1) / page * page
        let end = min(range.upperBound, size) / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }
}
