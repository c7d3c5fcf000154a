import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let posixWrite = Glibc.write
private let posixClose = Glibc.close
#else
private let posixWrite = Darwin.write
private let posixClose = Darwin.close
#endif

/// Appends bytes to a download's `.incomplete` file with plain POSIX writes, so a full disk is told apart (ENOSPC).
struct BlobWriter {
    let path: String
    private let fd: Int32

    /// Opens `path` for appending; `truncate` starts it again from zero.
    init(path: String, truncate: Bool) throws(HubError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | (truncate ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else { throw .fileSystem(path: path, reason: String(cString: strerror(errno))) }
    }

    /// Writes all of `bytes`; a full disk is `diskFull` (the part written so far stays, to resume).
    func write(_ bytes: UnsafeRawBufferPointer, file: String, remaining: Int64) throws(HubError) {
        var offset = 0
        while offset < bytes.count {
            let n = posixWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                if code == ENOSPC || code == EDQUOT {
                    throw .diskFull(file: file, needed: remaining, available: 0, directory: (path as NSString).deletingLastPathComponent)
                }
                throw .fileSystem(path: path, reason: String(cString: strerror(code)))
            }
            offset += n
        }
    }

    func close() { _ = posixClose(fd) }

    /// Bytes on disk at `path` (0 when there is no file).
    static func size(_ path: String) -> Int64 {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : 0
    }

    /// Free bytes for an unprivileged user on the file system that holds `directory` (statvfs).
    static func freeSpace(_ directory: String) -> Int64? {
        var s = statvfs()
        guard statvfs(directory, &s) == 0 else { return nil }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }

    /// SHA-256 of a file as lower-case hex, read in 8 MiB pieces.
    static func sha256(_ path: String) throws(HubError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .fileSystem(path: path, reason: "cannot read") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 8 << 20) ?? Data() } catch { throw .fileSystem(path: path, reason: "\(error)") }
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
