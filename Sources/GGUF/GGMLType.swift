/// Tensor element types by their ggml id (ggml.h `enum ggml_type`).
/// Ids 4, 5, 31-33 and 36-38 were removed from ggml and are rejected as unknown.
public enum GGMLType: UInt32, Sendable, CaseIterable, Codable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case iq2_xxs = 16
    case iq2_xs = 17
    case iq3_xxs = 18
    case iq1_s = 19
    case iq4_nl = 20
    case iq3_s = 21
    case iq2_s = 22
    case iq4_xs = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case iq1_m = 29
    case bf16 = 30
    case tq1_0 = 34
    case tq2_0 = 35
    case mxfp4 = 39
    case nvfp4 = 40
    case q1_0 = 41

    /// The name ggml prints (`ggml_type_name`): "f16", "q4_K", "iq2_xxs".
    public var name: String { "\(self)" }

    /// Weights per block and bytes per block (ggml-common.h block structs; ggml.c type_traits).
    public var blockLayout: (weights: Int, bytes: Int) {
        switch self {
        case .f32: (1, 4)
        case .f16: (1, 2)
        case .bf16: (1, 2)
        case .f64: (1, 8)
        case .i8: (1, 1)
        case .i16: (1, 2)
        case .i32: (1, 4)
        case .i64: (1, 8)
        case .q4_0: (32, 18)       // fp16 d + 16 bytes of nibbles
        case .q4_1: (32, 20)       // fp16 d, m + 16 bytes
        case .q5_0: (32, 22)       // fp16 d + 4 bytes high bits + 16 bytes
        case .q5_1: (32, 24)       // fp16 d, m + 4 + 16
        case .q8_0: (32, 34)       // fp16 d + 32 int8
        case .q8_1: (32, 36)       // fp16 d, s + 32 int8
        case .q2_K: (256, 84)      // 16 scales + 64 qs + fp16 d, dmin
        case .q3_K: (256, 110)     // 32 hmask + 64 qs + 12 scales + fp16 d
        case .q4_K: (256, 144)     // fp16 d, dmin + 12 scales + 128 qs
        case .q5_K: (256, 176)     // fp16 d, dmin + 12 scales + 32 qh + 128 qs
        case .q6_K: (256, 210)     // 128 ql + 64 qh + 16 scales + fp16 d
        case .q8_K: (256, 292)     // f32 d + 256 int8 + 16 int16 bsums
        case .iq2_xxs: (256, 66)
        case .iq2_xs: (256, 74)
        case .iq3_xxs: (256, 98)
        case .iq1_s: (256, 50)
        case .iq4_nl: (32, 18)
        case .iq3_s: (256, 110)
        case .iq2_s: (256, 82)
        case .iq4_xs: (256, 136)
        case .iq1_m: (256, 56)
        case .tq1_0: (256, 54)
        case .tq2_0: (256, 66)
        case .mxfp4: (32, 17)
        case .nvfp4: (64, 36)
        case .q1_0: (128, 18)
        }
    }

    /// Types whose tensors Featherweight can compute with. Others load, show in `inspect`,
    /// and are reported as unsupported when a tensor of theirs is used.
    public var isSupported: Bool {
        switch self {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K:
            true
        default:
            false
        }
    }

    /// Average bits per weight of this type.
    public var bitsPerWeight: Double {
        Double(blockLayout.bytes * 8) / Double(blockLayout.weights)
    }

    /// Bytes that `count` elements take, or nil when `count` is not a whole number of blocks.
    public func byteSize(elements count: Int) -> Int? {
        let (w, b) = blockLayout
        guard count >= 0, count % w == 0 else { return nil }
        let (bytes, overflow) = (count / w).multipliedReportingOverflow(by: b)
        return overflow ? nil : bytes
    }
}
