import Foundation
import GGUF

/// Errors of the numeric layer, each one line for the user.
public enum ComputeError: Error, CustomStringConvertible, Equatable {
    case unknownISA(String)
    case isaUnsupported(String)
    case unsupportedType(GGMLType)
    case shape(String)
    /// pthread_create failed (EAGAIN: a process or memory limit).
    case threadStart(requested: Int, started: Int, code: Int32)

    public var description: String {
        switch self {
        case .unknownISA(let name):
            "FEATHER_ISA=\(name) names no instruction set (use scalar, avx2, avx512 or neon)"
        case .isaUnsupported(let name):
            "this CPU cannot run the \(name) kernels that FEATHER_ISA asks for"
        case .unsupportedType(let type):
            "tensor type \(type.name) is not supported by the compute kernels"
        case .shape(let what):
            "bad tensor shape: \(what)"
        case .threadStart(let requested, let started, let code):
            "could not start thread \(started + 1) of \(requested): \(String(cString: strerror(code))) (use fewer threads, -t)"
        }
    }
}
