import Foundation
import Testing
@testable import Weigh

@Suite struct SandboxTests {
    static let sandbox = PythonSandbox(timeoutSeconds: 3, memoryMB: 256)

    @Test func passingAndFailingPrograms() {
        #expect(Self.sandbox.run(program: "def f(x):\n    return x + 1\nassert f(1) == 2\n").passed)
        let failed = Self.sandbox.run(program: "assert 1 == 2, 'nope'\n")
        #expect(!failed.passed && failed.detail.contains("AssertionError"))
    }

    @Test func limitsStopRunawayPrograms() {
        #expect(!Self.sandbox.run(program: "while True:\n    pass\n").passed)
        #expect(!Self.sandbox.run(program: "x = bytearray(2 * 1024 * 1024 * 1024)\n").passed)
    }

    @Test func noNetworkWhenIsolated() {
        guard Self.sandbox.isolatedNetwork else { return }
        let program = "import socket\ns = socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
        let r = Self.sandbox.run(program: program)
        #expect(!r.passed)
    }
}
