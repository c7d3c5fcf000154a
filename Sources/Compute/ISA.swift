import CKernels

/// The instruction set the kernels run with. Chosen once per process from CPUID, or forced with
/// the environment variable `FEATHER_ISA=scalar|avx2|avx512|neon`.
public enum ISA: String, Sendable, CaseIterable {
    case scalar, avx2, avx512, neon

    public var raw: fw_isa {
        switch self {
        case .scalar: FW_ISA_SCALAR
        case .avx2: FW_ISA_AVX2
        case .avx512: FW_ISA_AVX512
        case .neon: FW_ISA_NEON
        }
    }

    init(raw: fw_isa) {
        switch raw {
        case FW_ISA_AVX2: self = .avx2
        case FW_ISA_AVX512: self = .avx512
        case FW_ISA_NEON: self = .neon
        default: self = .scalar
        }
    }

    /// Whether this CPU can run kernels built for this ISA.
    public var isSupported: Bool { fw_isa_supported(raw) != 0 }

    /// The best ISA this CPU supports.
    public static var best: ISA { ISA(raw: fw_isa_best()) }

    /// The ISA named `name`, or when nil the one `FEATHER_ISA` names, or the best one.
    /// Throws when the name is unknown or the CPU lacks that ISA.
    public static func select(_ name: String? = nil) throws(ComputeError) -> ISA {
        var out = FW_ISA_SCALAR
        let rc: Int32 = if let name { fw_isa_select(name, &out) } else { fw_isa_select(nil, &out) }
        switch rc {
        case Int32(FW_OK): return ISA(raw: out)
        case Int32(FW_ERR_ISA_UNSUPPORTED): throw .isaUnsupported(name ?? envISA ?? "")
        default: throw .unknownISA(name ?? envISA ?? "")
        }
    }

    /// `select()` evaluated once; an invalid `FEATHER_ISA` falls back to the best ISA here, so
    /// front ends should call `select()` themselves to report it.
    public static let preferred: ISA = (try? select()) ?? best

    private static var envISA: String? {
        guard let p = getenv("FEATHER_ISA") else { return nil }
        return String(cString: p)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
