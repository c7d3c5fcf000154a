import CKernels
@testable import Compute
import Foundation
import Testing

struct ISATests {
    @Test func scalarIsAlwaysAvailable() throws {
        #expect(ISA.scalar.isSupported)
        #expect(try ISA.select("scalar") == .scalar)
        #expect(ISA.best.isSupported)
    }

    @Test func unknownNameIsRefused() {
        #expect(throws: ComputeError.unknownISA("sse9")) { try ISA.select("sse9") }
    }

    @Test func unsupportedISAIsRefused() throws {
        for isa in ISA.allCases where !isa.isSupported {
            #expect(throws: ComputeError.isaUnsupported(isa.rawValue)) { try ISA.select(isa.rawValue) }
            var out = FW_ISA_SCALAR
            #expect(fw_isa_select(isa.rawValue, &out) == FW_ERR_ISA_UNSUPPORTED)
        }
    }

    /// The best ISA never names one the CPU lacks (AVX-512 on this AVX2-only machine).
    @Test func bestIsRunnable() {
        #expect(ISA.best.isSupported)
        #if arch(x86_64)
        if !ISA.avx512.isSupported { #expect(ISA.best != .avx512) }
        #endif
    }

    @Test func unsupportedISAKernelCallsFail() {
        let x = [Float](repeating: 1, count: 32)
        var out = [UInt8](repeating: 0, count: 34)
        for isa in ISA.allCases where !isa.isSupported {
            #expect(fw_quantize_row(isa.raw, 8, x, &out, 32) == FW_ERR_ISA_UNSUPPORTED)
            #expect(fw_get_vec_dot(isa.raw, 8) == nil)
        }
    }
}

extension ISATests {
    /// FEATHER_ISA is read when no name is given. (ISA.preferred may already be cached; this
    /// goes through the C selector directly.)
    @Test func environmentOverrideIsReadAndChecked() {
        let saved = getenv("FEATHER_ISA").map { String(cString: $0) }
        defer { if let saved { setenv("FEATHER_ISA", saved, 1) } else { unsetenv("FEATHER_ISA") } }
        var out = FW_ISA_AVX2
        setenv("FEATHER_ISA", "scalar", 1)
        #expect(fw_isa_select(nil, &out) == FW_OK && out == FW_ISA_SCALAR)
        setenv("FEATHER_ISA", "sse9", 1)
        #expect(fw_isa_select(nil, &out) == FW_ERR_UNKNOWN_ISA)
        if !ISA.avx512.isSupported {
            setenv("FEATHER_ISA", "avx512", 1)
            #expect(fw_isa_select(nil, &out) == FW_ERR_ISA_UNSUPPORTED)
        }
        unsetenv("FEATHER_ISA")
        #expect(fw_isa_select(nil, &out) == FW_OK && ISA(raw: out) == ISA.best)
    }
}
