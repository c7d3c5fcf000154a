import Foundation

/// Runs model-written Python in a child process: CPU-time, address-space, file-size and process
/// limits set with resource.setrlimit before the program starts, a wall-clock timeout, a fresh
/// temporary working directory, and no network when `unshare -n` (a new, empty network
/// namespace) is allowed here.
public struct PythonSandbox: Sendable {
    public var timeoutSeconds: Int
    public var memoryMB: Int
    /// Whether programs run without network (unshare -rn worked on this machine).
    public let isolatedNetwork: Bool
    let python: String

    public init(timeoutSeconds: Int = 10, memoryMB: Int = 1024) {
        self.timeoutSeconds = timeoutSeconds
        self.memoryMB = memoryMB
        python = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "python3"
        isolatedNetwork = Self.run(["unshare", "-rn", "true"], timeout: 5).status == 0
    }

    /// How isolation is done, for the run's log.
    public var description: String {
        "python3 subprocess, RLIMIT_CPU \(timeoutSeconds) s, RLIMIT_AS \(memoryMB) MiB, wall timeout \(timeoutSeconds + 5) s, "
            + (isolatedNetwork ? "no network (unshare -rn: empty network namespace)" : "NETWORK NOT ISOLATED (unshare -rn not permitted here)")
    }

    /// The launcher: limits first, then the program from its file as __main__.
    static let launcher = """
    import resource, sys, runpy
    cpu, mem = int(sys.argv[2]), int(sys.argv[3]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    runpy.run_path(sys.argv[1], run_name="__main__")
    """

    /// Runs `program`; passed when it exits with status 0 in time.
    public func run(program: String) -> (passed: Bool, detail: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("feather-sandbox-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let programPath = dir.appendingPathComponent("program.py").path
        let launcherPath = dir.appendingPathComponent("launcher.py").path
        FileManager.default.createFile(atPath: programPath, contents: Data(program.utf8))
        FileManager.default.createFile(atPath: launcherPath, contents: Data(Self.launcher.utf8))
        var argv = [python, "-I", launcherPath, programPath, String(timeoutSeconds), String(memoryMB)]
        if isolatedNetwork { argv = ["unshare", "-rn"] + argv }
        let r = Self.run(argv, timeout: timeoutSeconds + 5, directory: dir.path)
        if r.timedOut { return (false, "timed out") }
        if r.status == 0 { return (true, "passed") }
        let last = r.stderr.split(separator: "\n").last.map(String.init) ?? ""
        return (false, "exit \(r.status): \(last.prefix(200))")
    }

    static func run(_ argv: [String], timeout: Int, directory: String? = nil) -> (status: Int32, stderr: String, timedOut: Bool) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        // stderr goes to a file: a child the program leaves behind cannot block a pipe.
        let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("feather-sandbox-\(UUID().uuidString).err").path
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        p.standardError = FileHandle(forWritingAtPath: errPath)
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return (127, "\(error)", false) }
        let deadline = Date().addingTimeInterval(Double(timeout))
        var timedOut = false
        while p.isRunning {
            if Date() > deadline { timedOut = true; kill(p.processIdentifier, SIGKILL); break }
            usleep(10_000)
        }
        p.waitUntilExit()
        let data = FileManager.default.contents(atPath: errPath) ?? Data()
        return (p.terminationStatus, String(decoding: data.suffix(4000), as: UTF8.self), timedOut)
    }
}

