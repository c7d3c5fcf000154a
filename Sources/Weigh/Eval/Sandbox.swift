import CSandbox
import Foundation

/// Runs model-written Python in a child process started by CSandbox: its own process group (killed whole
/// when the program ends or times out, and what it left reaped), RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE and
/// RLIMIT_NPROC, the uid nobody when feather runs as root, a fresh temporary working directory, and, where
/// Linux allows them, new user, mount, network, PID, IPC and UTS namespaces with every mount read-only but
/// the work directory. Where namespaces are refused it says so on stderr, once, and runs with the limits only.
public struct PythonSandbox: Sendable {
    /// How programs are kept from the rest of the machine.
    public enum Isolation: Sendable, Equatable {
        /// No network, nothing writable outside the work directory, every process ends with the program.
        case namespaces
        /// Namespaces were refused (or not asked for): limits, process group and uid only.
        case limitsOnly(reason: String)
    }

    public var timeoutSeconds: Int
    public var memoryMB: Int
    public var maxProcesses: Int
    public let isolation: Isolation
    let python: String

    /// `useNamespaces: false` runs as where namespaces are refused (tests of the fallback).
    public init(timeoutSeconds: Int = 10, memoryMB: Int = 1024, maxProcesses: Int = 64, useNamespaces: Bool = true) {
        self.timeoutSeconds = timeoutSeconds
        self.memoryMB = memoryMB
        self.maxProcesses = maxProcesses
        python = Self.defaultPython
        isolation = useNamespaces ? Self.probedIsolation : .limitsOnly(reason: "namespaces not requested")
    }

    /// Seconds a program may run by the clock before its process group is killed.
    public var wallSeconds: Int { timeoutSeconds + 5 }

    /// How isolation is done, for the run's log.
    public var description: String {
        let limits = "python3 in its own process group as \(Self.runsAsNobody ? "uid nobody" : "the current user"), RLIMIT_CPU \(timeoutSeconds) s, "
            + "RLIMIT_AS \(memoryMB) MiB, RLIMIT_NPROC \(maxProcesses), RLIMIT_FSIZE 16 MiB, wall timeout \(wallSeconds) s "
            + "(then its whole process group is killed), fresh temporary work directory"
        switch isolation {
        case .namespaces:
            return limits + "; new user, mount, network, PID, IPC and UTS namespaces: no network, every mount read-only "
                + "but the work directory, every process it starts killed with it"
        case .limitsOnly(let reason):
            return limits + "; NOT ISOLATED (\(reason)): network, files writable by \(Self.runsAsNobody ? "nobody" : "the current user"), "
                + "processes that leave its process group"
        }
    }

    /// Runs `program`; passed when it exits with status 0 in time.
    public func run(program: String) -> (passed: Bool, detail: String) {
        let outcome = execute(program: program)
        return (outcome.passed, outcome.detail)
    }

    struct Outcome {
        var passed: Bool
        var detail: String
        /// The program's process group id (every process of the run, unless one left the group).
        var processGroup: pid_t
    }

    func execute(program: String) -> Outcome {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("feather-sandbox-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: dir) }
        if Self.runsAsNobody { _ = chown(dir.path, uid_t(FW_SANDBOX_UNPRIVILEGED_ID), gid_t(FW_SANDBOX_UNPRIVILEGED_ID)) }
        _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("program.py").path, contents: Data(program.utf8))
        let r = Self.spawn([python, "-I", "program.py"], directory: dir.path, limits: self, isolate: isolation == .namespaces)
        if r.timedOut { return Outcome(passed: false, detail: "timed out", processGroup: r.processGroup) }
        if r.exitCode == 0 { return Outcome(passed: true, detail: "passed", processGroup: r.processGroup) }
        let last = r.stderr.split(separator: "\n").last.map(String.init) ?? ""
        let how = r.exitCode >= 0 ? "exit \(r.exitCode)" : "signal \(r.signal)"
        return Outcome(passed: false, detail: "\(how): \(last.prefix(200))", processGroup: r.processGroup)
    }

    struct Finished {
        var exitCode: Int32
        var signal: Int32
        var stderr: String
        var timedOut: Bool
        var processGroup: pid_t
    }

    static func spawn(_ argv: [String], directory: String, limits: PythonSandbox, isolate: Bool) -> Finished {
        // stderr goes to a file outside the work directory: a child left behind cannot block a pipe.
        let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("feather-sandbox-\(UUID().uuidString).err").path
        defer { try? FileManager.default.removeItem(atPath: errPath) }
        let env = ["PATH=/usr/bin:/bin", "HOME=\(directory)", "TMPDIR=\(directory)", "LANG=C.UTF-8"]
        let cArgv = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup($0) } + [nil]
        defer { (cArgv + cEnv).forEach { free($0) } }
        let result: fw_sandbox_result = cArgv.withUnsafeBufferPointer { a in
            cEnv.withUnsafeBufferPointer { e in
                a.withMemoryRebound(to: UnsafePointer<CChar>?.self) { argvPointer in
                    e.withMemoryRebound(to: UnsafePointer<CChar>?.self) { envPointer in
                        directory.withCString { dir in
                            errPath.withCString { err in
                                var spec = fw_sandbox_spec(
                                    argv: argvPointer.baseAddress, envp: envPointer.baseAddress, workdir: dir, stderrPath: err,
                                    cpuSeconds: limits.timeoutSeconds, memoryBytes: limits.memoryMB << 20, fileBytes: 16 << 20,
                                    maxProcesses: limits.maxProcesses, wallSeconds: Double(limits.wallSeconds), isolate: isolate ? 1 : 0)
                                return fw_sandbox_run(&spec)
                            }
                        }
                    }
                }
            }
        }
        if result.started == 0 {
            return Finished(exitCode: 127, signal: 0, stderr: "cannot start: \(String(cString: strerror(result.exitCode)))", timedOut: false,
                            processGroup: -1)
        }
        let data = FileManager.default.contents(atPath: errPath) ?? Data()
        return Finished(exitCode: result.exitCode, signal: result.signal, stderr: String(decoding: data.suffix(4000), as: UTF8.self),
                        timedOut: result.timedOut != 0, processGroup: result.processGroup)
    }

    static let runsAsNobody = geteuid() == 0

    static let defaultPython = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    } ?? "/usr/bin/python3"

    /// Whether namespaces work here, found once by running `python3 -c pass` in them; a refusal is told
    /// on stderr once, with what is then not isolated.
    static let probedIsolation: Isolation = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("feather-sandbox-probe-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: dir) }
        if runsAsNobody { _ = chown(dir.path, uid_t(FW_SANDBOX_UNPRIVILEGED_ID), gid_t(FW_SANDBOX_UNPRIVILEGED_ID)) }
        let probe = PythonSandbox(timeoutSeconds: 10, memoryMB: 1024, maxProcesses: 64, useNamespaces: false)
        let r = spawn([defaultPython, "-I", "-c", "pass"], directory: dir.path, limits: probe, isolate: true)
        if r.exitCode == 0 { return .namespaces }
        let reason = r.timedOut ? "namespace probe timed out" : (r.stderr.split(separator: "\n").last.map(String.init) ?? "exit \(r.exitCode)")
        FileHandle.standardError.write(Data(("feather: code execution is NOT isolated from the network, the filesystem (files writable by "
            + "\(runsAsNobody ? "nobody" : "you")) and processes that leave its process group: namespaces refused here (\(reason)); "
            + "only time, memory, file-size and process-count limits apply\n").utf8))
        return .limitsOnly(reason: reason)
    }()
}
