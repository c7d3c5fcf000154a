import Compute
import Engine
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory and page-cache facts about this process and the machine (Linux /proc; nil elsewhere).
public enum ProcessMetrics {
    /// Peak resident set size of this process (VmHWM in /proc/self/status), in bytes.
    public static func peakResidentBytes() -> Int? { statusField("VmHWM") }

    /// Current resident set size (VmRSS), in bytes.
    public static func residentBytes() -> Int? { statusField("VmRSS") }

    /// Resets VmHWM to the current RSS (writing 5 to /proc/self/clear_refs, Linux ≥ 4.0), after
    /// handing the heap's free memory back to the kernel (glibc keeps what an earlier test freed,
    /// so a test would otherwise be charged the previous one's buffers; llama-bench runs each test
    /// in a context of its own). Returns false where the kernel or the sandbox refuses.
    @discardableResult
    public static func resetPeakResident() -> Bool {
        #if canImport(Glibc)
        // malloc_trim (glibc's malloc.h, which the Glibc module does not export).
        if let sym = dlsym(nil, "malloc_trim") {
            _ = unsafeBitCast(sym, to: (@convention(c) (Int) -> Int32).self)(0)
        }
        #endif
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    static func statusField(_ name: String, process: String = "self") -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(process)/status", encoding: .utf8) else { return nil }
        return statusField(name, in: text)
    }

    /// The value in bytes of a "Name:   N kB" line of a /proc status text.
    static func statusField(_ name: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            // "VmHWM:\t    1936 kB", but "VmHWM:\t14000000 kB" from 10 GB on: the tab is a separator too.
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kb = Int(parts[1]) else { return nil }
            return kb * 1024
        }
        return nil
    }

    /// Asks the kernel to drop the file's pages from the page cache (posix_fadvise DONTNEED).
    /// Pages that some process maps stay, so check `residentFraction` afterwards.
    @discardableResult
    public static func dropFromPageCache(path: String) -> Bool {
        #if os(Linux)
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        fdatasync(fd)
        return posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED)) == 0
        #else
        return false
        #endif
    }

    /// Share of the file's pages that are in the page cache (mincore over a fresh read-only map).
    public static func residentFraction(path: String) -> Double? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else { return nil }
        let size = Int(st.st_size)
        guard let map = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED else { return nil }
        defer { munmap(map, size) }
        let page = Int(getpagesize())
        let pages = (size + page - 1) / page
        #if os(Linux)
        var vec = [UInt8](repeating: 0, count: pages)
        guard mincore(map, size, &vec) == 0 else { return nil }
        #else
        var vec = [CChar](repeating: 0, count: pages)
        guard mincore(map, size, &vec) == 0 else { return nil }
        #endif
        let resident = vec.reduce(0) { $0 + Int($1 & 1) }
        return Double(resident) / Double(pages)
    }

    /// This machine, with the ISA `FEATHER_ISA` names (or the best this CPU has); throws when it names one this CPU lacks.
    public static func selectedHost() throws -> HostInfo { host(isa: try ISA.select()) }

    /// This machine, and the ISA the kernels use.
    public static func host(isa: ISA = .preferred) -> HostInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        func field(_ name: String) -> String? {
            for line in cpuinfo.split(separator: "\n") where line.hasPrefix(name) {
                if let colon = line.firstIndex(of: ":") {
                    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
        let flags = Set((field("flags") ?? field("Features") ?? "").split(separator: " ").map(String.init))
        // The CPU flags each kernel path relies on (Sources/CKernels/dispatch.c).
        let needed: [String] = switch isa {
        case .scalar: []
        case .avx2: ["avx2", "fma", "f16c"]
        case .avx512: ["avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx2", "fma", "f16c"]
        case .neon: ["asimd", "fphp", "asimddp"]
        }
        let features = flags.isEmpty ? needed : needed.filter { flags.contains($0) }
        var uts = utsname()
        uname(&uts)
        let os = withUnsafeBytes(of: &uts.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            + " " + withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            + " " + withUnsafeBytes(of: &uts.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return HostInfo(cpuModel: field("model name"), logicalCPUs: ProcessInfo.processInfo.activeProcessorCount,
                        physicalCores: Engine.defaultThreads, memoryBytes: Int(ProcessInfo.processInfo.physicalMemory),
                        isa: isa.rawValue, cpuFeatures: features, os: os)
    }
}

/// Runs a program to completion, with its standard output captured and its peak RSS measured (its
/// VmHWM polled every 5 ms; wait4's ru_maxrss where /proc is missing).
public struct ChildProcess {
    public struct Outcome: Sendable {
        public var status: Int32
        public var stdout: Data
        public var stderr: Data
        public var peakResidentBytes: Int
        public var seconds: Double
    }

    public static func run(_ executable: String, _ arguments: [String]) throws -> Outcome {
        let dir = FileManager.default.temporaryDirectory
        let tag = UUID().uuidString
        let outPath = dir.appendingPathComponent("feather-child-\(tag).out").path
        let errPath = dir.appendingPathComponent("feather-child-\(tag).err").path
        defer { unlink(outPath); unlink(errPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        // Ctrl-C: we ignore SIGINT and watch a flag; the child gets the default action back.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF))
        var pid = pid_t()
        let start = DispatchTime.now().uptimeNanoseconds
        let rc = posix_spawn(&pid, executable, &actions, &attr, argv, environ)
        guard rc == 0 else { throw BenchError.spawnFailed(executable, String(cString: strerror(rc))) }
        var status: Int32 = 0
        var usage = rusage()
        // The child's own VmHWM, polled until it exits: wait4's ru_maxrss is not the child's alone on Linux,
        // since exec keeps the high-water mark of the memory it replaces, which for a vfork-style spawn is
        // ours (a 90 MiB llama-bench run reported our 150 MiB).
        var polledPeak: Int?
        while true {
            let r = wait4(pid, &status, WNOHANG, &usage)
            if r == pid { break }
            if r < 0 {
                guard errno == EINTR else { throw BenchError.spawnFailed(executable, String(cString: strerror(errno))) }
                continue
            }
            if let hwm = ProcessMetrics.statusField("VmHWM", process: String(pid)) { polledPeak = max(polledPeak ?? 0, hwm) }
            usleep(5_000)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        // WIFEXITED / WEXITSTATUS by hand (macros are not imported into Swift).
        let exited = status & 0x7f == 0
        let code: Int32 = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        #if os(Linux)
        let maxrss = Int(usage.ru_maxrss) * 1024  // kilobytes on Linux
        #else
        let maxrss = Int(usage.ru_maxrss)          // bytes on macOS
        #endif
        return Outcome(status: code, stdout: (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data(),
                       stderr: (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data(),
                       peakResidentBytes: polledPeak ?? maxrss, seconds: seconds)
    }
}
