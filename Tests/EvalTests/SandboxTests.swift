import Foundation
import Testing
@testable import Weigh

/// Serialized: the fork tests fill a process table, the timeout tests take seconds by the clock.
@Suite(.serialized) struct SandboxTests {
    static let sandbox = PythonSandbox(timeoutSeconds: 3, memoryMB: 256)
    /// As where namespaces are refused: limits, process group and (as root) uid nobody only.
    static let limitsOnly = PythonSandbox(timeoutSeconds: 3, memoryMB: 256, useNamespaces: false)
    static let both = [sandbox, limitsOnly]

    @Test(arguments: both) func passingAndFailingPrograms(sandbox: PythonSandbox) {
        #expect(sandbox.run(program: "def f(x):\n    return x + 1\nassert f(1) == 2\n").passed)
        let failed = sandbox.run(program: "assert 1 == 2, 'nope'\n")
        #expect(!failed.passed && failed.detail.contains("AssertionError"))
    }

    @Test(arguments: both) func limitsStopRunawayPrograms(sandbox: PythonSandbox) {
        #expect(!sandbox.run(program: "while True:\n    pass\n").passed)
        #expect(!sandbox.run(program: "x = bytearray(2 * 1024 * 1024 * 1024)\n").passed)
    }

    /// Namespaces are what this machine (and CI, the same kind) gives; the tests below check the
    /// isolated behaviour through `sandbox` and the documented fallback through `limitsOnly`.
    @Test func namespacesAreUsedOnLinux() {
        #if os(Linux)
        #expect(Self.sandbox.isolation == .namespaces, "\(Self.sandbox.description)")
        #else
        #expect(Self.sandbox.isolation != .namespaces)
        #endif
    }

    /// 200 children that sleep: the 65th fork must be refused (RLIMIT_NPROC 64).
    @Test(arguments: both) func processCountIsLimited(sandbox: PythonSandbox) {
        let program = """
        import os, sys, time
        for n in range(200):
            try:
                if os.fork() == 0:
                    time.sleep(2)
                    os._exit(0)
            except OSError as e:
                sys.exit(f"fork refused after {n}: {e}")
        """
        let r = sandbox.run(program: program)
        #expect(!r.passed && r.detail.contains("fork refused after"), "\(r.detail)")
    }

    /// `while True: os.fork()` ends as a failure, in bounded time, with nothing of it left running.
    @Test(arguments: both) func forkBombIsContained(sandbox: PythonSandbox) {
        let start = Date()
        let r = sandbox.execute(program: "import os\nwhile True:\n    os.fork()\n")
        #expect(!r.passed)
        #expect(Date().timeIntervalSince(start) < Double(sandbox.wallSeconds) + 5)
        #expect(kill(-r.processGroup, 0) != 0 && errno == ESRCH, "processes of the fork bomb are left")
        #expect(sandbox.run(program: "import os\nif os.fork() == 0:\n    os._exit(0)\nos.wait()\n").passed)
    }

    /// A grandchild that sleeps past the timeout is killed with the program. One that left the process group
    /// is killed too when namespaces are in use (the PID namespace ends with its first process); without
    /// them it survives, as the fallback's description says.
    @Test(arguments: both, [false, true]) func timeoutKillsGrandchildren(sandbox: PythonSandbox, newSession: Bool) throws {
        let token = "\(30 + Int.random(in: 0..<30)).\(Int.random(in: 100_000...999_999))"
        let program = """
        import os, subprocess, time
        if os.fork() == 0:
            \(newSession ? "os.setsid()" : "pass")
            subprocess.Popen(["/bin/sleep", "\(token)"])
            os._exit(0)
        time.sleep(60)
        """
        let r = sandbox.run(program: program)
        #expect(r.detail == "timed out")
        let left = processes(containing: "sleep \(token)")
        for pid in left { if let p = pid_t(pid) { _ = kill(p, SIGKILL) } }
        let escapes = newSession && sandbox.isolation != .namespaces
        #expect(left.isEmpty == !escapes, "grandchildren left: \(left)")
    }

    /// The brief's scenario by the clock: a grandchild that writes a marker 2 s after the timeout.
    @Test func markerOfAKilledGrandchildNeverAppears() throws {
        let sandbox = Self.limitsOnly
        let outside = try worldWritableDirectory()
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let marker = "\(outside)/marker"
        let program = """
        import subprocess, time
        subprocess.Popen(["/bin/sh", "-c", "sleep \(sandbox.wallSeconds + 1); echo > \(marker)"])
        time.sleep(60)
        """
        #expect(sandbox.run(program: program).detail == "timed out")
        Thread.sleep(forTimeInterval: 2.5)
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    /// Writing outside the work directory: refused in a root-owned 0755 directory (read-only mounts, or
    /// uid nobody without namespaces); in a world-writable one only the namespaces stop it.
    @Test(arguments: both) func nothingIsWrittenOutsideTheWorkDirectory(sandbox: PythonSandbox) throws {
        let owned = temporaryDirectory()
        let open = try worldWritableDirectory()
        defer { try? FileManager.default.removeItem(atPath: owned); try? FileManager.default.removeItem(atPath: open) }
        let inside = sandbox.run(program: "open('here.txt', 'w').write('ok')\nassert open('here.txt').read() == 'ok'\n")
        #expect(inside.passed, "\(inside.detail)")
        let ownedResult = sandbox.run(program: "open('\(owned)/escaped', 'w').write('x')\n")
        let openResult = sandbox.run(program: "open('\(open)/escaped', 'w').write('x')\n")
        let ownedWritten = FileManager.default.fileExists(atPath: "\(owned)/escaped")
        let openWritten = FileManager.default.fileExists(atPath: "\(open)/escaped")
        #expect(ownedWritten == (sandbox.isolation != .namespaces && !PythonSandbox.runsAsNobody))
        #expect(ownedResult.passed == ownedWritten, "\(ownedResult.detail)")
        #expect(openWritten == (sandbox.isolation != .namespaces))
        #expect(openResult.passed == openWritten, "\(openResult.detail)")
    }

    /// A connection to a server this test listens on, on 127.0.0.1: refused inside a network namespace
    /// (its loopback is down), made without one (what the fallback says it does not isolate).
    @Test(arguments: both) func networkOnlyWhenNotIsolated(sandbox: PythonSandbox) throws {
        let server = socket(AF_INET, streamSocket, 0)
        #expect(server >= 0)
        defer { close(server) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, length) == 0 && listen(server, 8) == 0 && getsockname(server, $0, &length) == 0 }
        }
        #expect(bound)
        let port = UInt16(bigEndian: address.sin_port)
        let r = sandbox.run(program: "import socket\nsocket.create_connection(('127.0.0.1', \(port)), timeout=2).close()\n")
        #expect(r.passed == (sandbox.isolation != .namespaces), "\(r.detail)")
    }

    /// Every canonical HumanEval solution passes its tests in the sandbox, as the task renders them;
    /// a wrong body fails.
    @Test(.enabled(if: Needs.runs(dataFile("humaneval.jsonl") != nil), "needs .data/humaneval.jsonl (make data)")) func humanEvalCanonicalSolutionsPass() async throws {
        let execution = try #require(try TaskCatalog.load("humaneval").definition.execution)
        let sandbox = PythonSandbox(timeoutSeconds: execution.timeoutSeconds, memoryMB: execution.memoryMB)
        let lines = try String(contentsOfFile: try #require(dataFile("humaneval.jsonl")), encoding: .utf8).split(separator: "\n")
        let problems = try lines.map { try JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
        #expect(problems.count == 164)
        func program(_ p: [String: String], output: String) throws -> String {
            var fields = p
            fields["output"] = output
            return try PromptTemplate.render(execution.program, fields)
        }
        // Two programs at a time; every finished one's outcome is kept (the one taken to make room too).
        let (failures, passed) = try await withThrowingTaskGroup(of: String?.self) { group in
            var failures: [String] = [], passed = 0
            func record(_ f: String??) { if let f { if let f { failures.append(f) } else { passed += 1 } } }
            for (i, p) in problems.enumerated() {
                if i >= 2 { record(try await group.next()) }
                let text = try program(p, output: p["canonical_solution"]!)
                group.addTask { let r = sandbox.run(program: text); return r.passed ? nil : "\(p["task_id"]!): \(r.detail)" }
            }
            while let f = try await group.next() { record(f) }
            return (failures, passed)
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(passed == 164)
        let wrong = sandbox.run(program: try program(problems[0], output: "    return not True\n"))
        #expect(!wrong.passed && wrong.detail.contains("AssertionError"), "\(wrong.detail)")
    }
}

/// A directory made by the test outside any work directory, writable by everyone (as /tmp is).
func worldWritableDirectory() throws -> String {
    let dir = temporaryDirectory()
    try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: dir)
    return dir
}

/// Pids of processes whose command line contains `text`, from `ps` (zombies have none).
func processes(containing text: String) -> [String] {
    let ps = Process()
    ps.executableURL = URL(fileURLWithPath: "/bin/ps")
    ps.arguments = ["-A", "-o", "pid=,args="]
    let pipe = Pipe()
    ps.standardOutput = pipe
    guard (try? ps.run()) != nil else { return ["ps failed"] }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    ps.waitUntilExit()
    return output.split(separator: "\n").filter { $0.contains(text) && !$0.contains("<defunct>") }.compactMap {
        $0.split(separator: " ").first.map(String.init)
    }
}

#if os(Linux)
let streamSocket = Int32(SOCK_STREAM.rawValue)
#else
let streamSocket = SOCK_STREAM
#endif
